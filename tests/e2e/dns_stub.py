"""A tiny authoritative DNS server on loopback for tests: one name, a changeable set of A records.

It stands in for a headless Service: the cluster DNS answers one A record per ready pod. Other
names get NXDOMAIN, other record types of the name an empty answer (as cluster DNS does for
AAAA in an IPv4 cluster).
"""
from __future__ import annotations

import socket
import threading

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset


class DnsStub:
    def __init__(self, name: str, addresses: list[str]):
        self.name = dns.name.from_text(name)
        self.addresses = list(addresses)
        self.queries = 0
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="dns-stub", daemon=True)

    def authority(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _answer(self, wire: bytes) -> bytes:
        query = dns.message.from_wire(wire)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        if question.name != self.name:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif question.rdtype == dns.rdatatype.A and self.addresses:
            response.answer.append(dns.rrset.from_text_list(question.name, 1, "IN", "A", list(self.addresses)))
        return response.to_wire()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                wire, peer = self._sock.recvfrom(4096)
            except (socket.timeout, OSError):
                continue
            self.queries += 1
            try:
                self._sock.sendto(self._answer(wire), peer)
            except Exception:  # a malformed query: no answer, as a server under junk would do
                pass

    def __enter__(self) -> "DnsStub":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(2)
        self._sock.close()
