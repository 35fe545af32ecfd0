"""The edge: deadlines and a connection cap that slow or greedy clients cannot stretch.

Sanic's own timeouts restart on every byte received, so a client that sends one header line
every few seconds holds its connection (and a file descriptor) for ever. Here each phase of a
request has a deadline fixed when the phase starts:

- the request head (request line and headers): ``header_timeout_s`` from its first byte (for
  a new connection, from the accept: a connection that sends nothing is a slow head too);
- the body: ``body_timeout_s`` plus its size at ``body_min_rate`` bytes/s (a chunked body
  earns its time as its bytes arrive at that rate);
- between requests: ``keep_alive_timeout_s`` (Sanic's keep-alive timer; nothing arrives while
  idle, so its per-byte reset is harmless there).

A phase past its deadline is ended like Sanic ends its own timeouts: 408 and the connection
closes. Each worker also caps its open connections (``max_connections``, lowered to fit the
process's file-descriptor limit): at the cap, a new connection first makes room by closing
the oldest idle keep-alive connection, then the oldest connection still sending its head
after ``slow_head_evict_s``; if there is none (every connection is busy with a request), the
new one gets 503 at once. Header count is capped too (431); header bytes are Sanic's
REQUEST_MAX_HEADER_SIZE, set from ``max_header_bytes``.

One timer per connection at a time (armed and cancelled at phase changes, no periodic scan)
and two ordered dicts per worker keep the cost per request at a few dict operations.
"""
from __future__ import annotations

import logging
import os
import resource
import time
from dataclasses import dataclass

from sanic.exceptions import RequestTimeout, SanicException

from sanic_app.ops.logging import AccessLineProtocol, _AccessLineHttp

log = logging.getLogger("sanic_app.ops.edge")
# Descriptors each worker keeps free for what is not a client connection (gRPC channels,
# log and metric files, pipes to the manager) when it fits the cap under RLIMIT_NOFILE.
FD_HEADROOM = 32
_REFUSAL_BODY = b'{"error": "too many open connections; try again"}'
REFUSAL = (b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\n"
           b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(_REFUSAL_BODY), _REFUSAL_BODY))


class TooManyHeaders(SanicException):
    status_code = 431
    quiet = True


@dataclass(frozen=True)
class EdgeLimits:
    header_timeout_s: float
    body_timeout_s: float
    body_min_rate: int
    max_connections: int
    slow_head_evict_s: float
    max_headers: int

    @classmethod
    def from_settings(cls, settings) -> "EdgeLimits":
        return cls(settings.header_timeout_s, settings.body_timeout_s, settings.body_min_rate,
                   settings.max_connections, settings.slow_head_evict_s, settings.max_headers)


def fitting_cap(wanted: int, headroom: int = FD_HEADROOM) -> int:
    """``wanted`` lowered so that the connections fit this process's file-descriptor limit."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    try:
        in_use = len(os.listdir("/proc/self/fd"))
    except OSError:
        in_use = 64
    return max(1, min(wanted, soft - in_use - headroom))


class ConnectionBook:
    """One worker's open connections in the order they may be closed to make room."""

    def __init__(self, limits: EdgeLimits, cap: int):
        self.limits = limits
        self.cap = cap
        self.idle: dict = {}    # keep-alive connections between requests, oldest first
        self.heads: dict = {}   # connections sending a request head -> when it began, oldest first
        self.refused = self.evicted = self.timed_out = 0

    def make_room(self, open_connections: set) -> bool:
        """Room for one more connection: True, closing one to make it if needed."""
        if len(open_connections) < self.cap:
            return True
        victim = next(iter(self.idle), None)
        if victim is None and self.heads:
            oldest, started = next(iter(self.heads.items()))
            if time.monotonic() - started >= self.limits.slow_head_evict_s:
                victim = oldest
        if victim is None:
            self.refused += 1
            return False
        self.evicted += 1
        self.forget(victim)
        open_connections.discard(victim)  # counted out now; its transport closes on the next turn
        victim.close()
        return True

    def forget(self, protocol) -> None:
        self.idle.pop(protocol, None)
        self.heads.pop(protocol, None)


class EdgeHttp(_AccessLineHttp):
    """Sanic's HTTP/1.1 cycle with phase deadlines and a header-count cap."""

    __slots__ = ()

    def init_for_request(self):
        super().init_for_request()
        protocol = self.protocol
        if protocol.state["requests_count"]:  # between requests: idle (the first is a head already)
            protocol.edge_idle()

    async def http1_request_header(self):
        protocol = self.protocol
        protocol.edge_head_started()
        await super().http1_request_header()
        protocol.edge_head_done(self)
        if len(self.request.headers) > protocol.edge_book.limits.max_headers:
            self.keep_alive = False
            raise TooManyHeaders(f"more than {protocol.edge_book.limits.max_headers} header fields")

    async def read(self):
        data = await super().read()
        if data is None:
            self.protocol.edge_disarm()
        return data


class EdgeProtocol(AccessLineProtocol):
    """The gateway's server protocol: access lines (ops.logging) plus the edge rules above."""

    HTTP_CLASS = EdgeHttp
    __slots__ = ("edge_book", "_edge_timer", "_edge_phase", "_edge_since")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.edge_book: ConnectionBook = self.app.ctx.connection_book
        self._edge_timer = None
        self._edge_phase = None
        self._edge_since = 0.0

    # --- asyncio callbacks ---

    def connection_made(self, transport):
        book = self.edge_book
        if not book.make_room(self.connections):
            self._edge_phase = "refused"  # never set up: connection_lost has nothing to undo
            transport.write(REFUSAL)
            transport.close()
            return
        super().connection_made(transport)
        book.heads[self] = time.monotonic()
        self._edge_arm("head", book.limits.header_timeout_s)

    def connection_lost(self, exc):
        if self._edge_phase == "refused":
            return
        self.edge_book.forget(self)
        self.edge_disarm()
        super().connection_lost(exc)

    # --- phases (called by EdgeHttp) ---

    def edge_idle(self) -> None:
        self.edge_disarm()
        book = self.edge_book
        book.heads.pop(self, None)
        book.idle[self] = None

    def edge_head_started(self) -> None:
        book = self.edge_book
        book.idle.pop(self, None)
        if self not in book.heads:
            book.heads[self] = time.monotonic()
        if self._edge_phase != "head":
            self._edge_arm("head", book.limits.header_timeout_s)

    def edge_head_done(self, http) -> None:
        self.edge_book.heads.pop(self, None)
        if http.request_body:
            limits = self.edge_book.limits
            self._edge_arm("body", limits.body_timeout_s + http.request_bytes / limits.body_min_rate)
        else:
            self.edge_disarm()

    def edge_disarm(self) -> None:
        if self._edge_timer is not None:
            self._edge_timer.cancel()
            self._edge_timer = None
        self._edge_phase = None

    def _edge_arm(self, phase: str, seconds: float) -> None:
        if self._edge_timer is not None:
            self._edge_timer.cancel()
        if self._edge_phase != phase:
            self._edge_since = time.monotonic()
        self._edge_phase = phase
        self._edge_timer = self.loop.call_later(seconds, self._edge_expired, phase)

    def _edge_expired(self, phase: str) -> None:
        self._edge_timer = None
        http = self._http
        if self._edge_phase != phase or self._task is None or http is None:
            return
        if phase == "body":  # a chunked body earns time as it arrives at the minimum rate
            limits = self.edge_book.limits
            allowed = limits.body_timeout_s + http.request_bytes / limits.body_min_rate
            left = allowed - (time.monotonic() - self._edge_since)
            if left > 0.01:
                self._edge_timer = self.loop.call_later(left, self._edge_expired, phase)
                return
        self._edge_phase = None
        self.edge_book.timed_out += 1
        self.edge_book.forget(self)
        log.debug("request %s not received within its deadline: closing the connection", phase)
        http.exception = RequestTimeout(f"request {phase} not received in time")
        self._task.cancel()


def configure(app, settings) -> None:
    """At app creation: Sanic's own settings that match ours."""
    app.config.REQUEST_MAX_HEADER_SIZE = settings.max_header_bytes
    app.config.KEEP_ALIVE_TIMEOUT = settings.keep_alive_timeout_s
    app.config.REQUEST_TIMEOUT = settings.header_timeout_s  # ours is stricter; Sanic's stays a backstop


async def open_book(app) -> None:
    """Worker start (before it serves): the limits and the cap fitted to the descriptors left."""
    limits = EdgeLimits.from_settings(app.ctx.settings)
    cap = fitting_cap(limits.max_connections)
    if cap < limits.max_connections:
        log.info("max_connections %d lowered to %d to fit the file-descriptor limit",
                 limits.max_connections, cap)
    app.ctx.connection_book = ConnectionBook(limits, cap)
