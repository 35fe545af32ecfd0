"""TLS and mTLS to TF Serving: what a target asks for, and the gRPC credentials it becomes.

A spec's ``target.tls`` (``{"ca": ..., "cert": ..., "key": ..., "server_name": ...}``, paths
relative to the spec file) or ``--target-ca/--target-cert/--target-key`` (``--target-tls``
alone: the system's roots) switch a target's channels to TLS. Files are checked when the
spec or flags are read (start-up fails with the file named) and read again in each worker
when its channel is made, so a renewed certificate is picked up by new workers.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import grpc

log = logging.getLogger("sanic_app.core.tls")
_FAILURE_WORDS = ("ssl", "tls", "handshake", "certificate")
LOG_EVERY_S = 10.0


@dataclass(frozen=True)
class TlsSpec:
    ca: str | None = None          # PEM bundle of roots to trust; None: the system's roots
    cert: str | None = None        # client certificate chain (mTLS), with ``key``
    key: str | None = None
    server_name: str | None = None  # the name to check the server's certificate against

    def problems(self) -> list[tuple[str, str]]:
        """(field, why) for each unusable part; empty when the files can be read."""
        found = []
        if (self.cert is None) != (self.key is None):
            found.append(("cert" if self.cert is None else "key", "mTLS needs both cert and key"))
        for name in ("ca", "cert", "key"):
            path = getattr(self, name)
            if path is not None and not Path(path).is_file():
                found.append((name, f"no readable file at {path}"))
        return found


def _read(path: str | None) -> bytes | None:
    return Path(path).read_bytes() if path else None


def channel_credentials(tls: TlsSpec) -> grpc.ChannelCredentials:
    """Credentials for grpc.aio.secure_channel (call in the worker that owns the channel)."""
    return grpc.ssl_channel_credentials(
        root_certificates=_read(tls.ca), private_key=_read(tls.key), certificate_chain=_read(tls.cert))


def channel_options(tls: TlsSpec | None) -> list[tuple[str, str]]:
    if tls is not None and tls.server_name:
        return [("grpc.ssl_target_name_override", tls.server_name)]
    return []


def is_tls_failure(details: str) -> bool:
    lowered = details.lower()
    return any(word in lowered for word in _FAILURE_WORDS)


class FailureLog:
    """A TLS failure's reason in the log, at most once per LOG_EVERY_S per target (a client
    retrying a broken backend must not flood the log)."""

    def __init__(self, target: str):
        self.target, self._last = target, float("-inf")

    def note(self, details: str) -> None:
        now = time.monotonic()
        if now - self._last >= LOG_EVERY_S and is_tls_failure(details):
            self._last = now
            log.error("TLS to backend %s failed: %s", self.target, details)
