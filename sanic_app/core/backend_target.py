"""The one rule for how a TF Serving address may be written (``--target`` and spec targets).

  host:port, [v6addr]:port        TCP; a host name resolves through DNS, round_robin over its records
  dns:[//resolver/]host:port      the same, with an explicit DNS server (gRPC's c-ares resolver)
  unix:relative/path, unix:/abs, unix:///abs
                                  a Unix domain socket (TF Serving's --grpc_socket_path), e.g. a
                                  sidecar's socket in a shared emptyDir

The schema (specs/schema.json) repeats PATTERN; a test keeps the two equal.
"""
from __future__ import annotations

import re

PATTERN = (r"^(?:[^\s:/\[\]]+:[0-9]{1,5}|\[[0-9a-fA-F:.]+\]:[0-9]{1,5}"
           r"|dns:(?://[^\s/]*/)?[^\s:/]+:[0-9]{1,5}|unix:(?://)?[^\s]+)$")
_FORM = re.compile(PATTERN)
FORMS = "host:port, [v6]:port, dns:[//resolver/]host:port or unix:PATH"


def is_unix(address: str) -> bool:
    return address.startswith("unix:")


def is_uri(address: str) -> bool:
    """Already a gRPC target URI (passed to grpc as written)."""
    return address.startswith(("unix:", "dns:"))


def check(text: str) -> str:
    """The address, stripped, if it has one of FORMS; else ValueError saying which forms exist."""
    address = text.strip()
    if not _FORM.match(address):
        raise ValueError(f"expected {FORMS}, got {text!r}")
    if not is_unix(address):
        port = int(address.rsplit(":", 1)[1])
        if not 0 < port < 65536:
            raise ValueError(f"port must be 1..65535, got {text!r}")
    elif address in ("unix:", "unix://", "unix:///"):
        raise ValueError(f"a unix: target needs a socket path, got {text!r}")
    return address
