"""Which ``GATEWAY_*`` environment variables are ours, which are Kubernetes', which are typos.

A pod's environment holds more than its own ``env``: with the default ``enableServiceLinks``
the kubelet adds Docker-link-style variables for every Service of the namespace, so a Service
named ``gateway`` gives every later pod ``GATEWAY_SERVICE_HOST``, ``GATEWAY_PORT=tcp://...``,
``GATEWAY_PORT_8000_TCP_ADDR`` and friends. Those must not stop start-up, and an unknown name
must not either (a crash loop that begins at the first restart after a Service appears), but a
typo of a real setting should still be pointed out: each unknown name is reported once with the
closest known one.
"""
from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

# The shapes the kubelet writes for a Service named NAME (upper-cased, '-' -> '_'):
#   NAME_SERVICE_HOST, NAME_SERVICE_PORT, NAME_SERVICE_PORT_<PORTNAME>,
#   NAME_PORT=tcp://ip:port, NAME_PORT_<n>_<PROTO>[=tcp://...], ..._PROTO, ..._PORT, ..._ADDR
_LINK_NAME = re.compile(
    r"^[A-Z0-9_]+_(?:SERVICE_HOST|SERVICE_PORT(?:_[A-Z0-9_]+)?|PORT_\d{1,5}_(?:TCP|UDP|SCTP)(?:_(?:PROTO|PORT|ADDR))?)$"
)
# NAME_PORT holds the first port as a URL; GATEWAY_PORT is also our own setting, told apart by value.
_LINK_PORT_VALUE = re.compile(r"^(?:tcp|udp|sctp)://\S+:\d{1,5}$")

SERVICE_LINK_HINT = ("set enableServiceLinks: false in the pod spec to keep them out "
                     "(the manifests in deploy/kubernetes do)")


def is_service_link(name: str, value: str) -> bool:
    """True for a variable the kubelet derives from a Service (not one a person wrote)."""
    if _LINK_NAME.match(name):
        return True
    return name.endswith("_PORT") and bool(_LINK_PORT_VALUE.match(value.strip()))


@dataclass
class EnvReport:
    """What the environment held besides our settings, to be reported once at start-up."""

    unknown: list[tuple[str, str | None]] = field(default_factory=list)  # (name, closest known)
    service_links: list[str] = field(default_factory=list)

    def messages(self) -> list[str]:
        out = []
        if self.unknown:
            parts = [f"{name} (did you mean {near}?)" if near else name for name, near in self.unknown]
            out.append("ignoring unknown environment variable(s): " + ", ".join(parts))
        if self.service_links:
            out.append("ignoring Kubernetes service-link variable(s) "
                       f"{', '.join(self.service_links)}: {SERVICE_LINK_HINT}")
        return out


def closest(name: str, known: Iterable[str]) -> str | None:
    """The known name a typo most likely meant, if any is close."""
    found = difflib.get_close_matches(name, list(known), n=1, cutoff=0.75)
    return found[0] if found else None
