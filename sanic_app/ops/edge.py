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

Heads are timed by one sweep per worker every SWEEP_S over a dict ordered by when each head
began (it stops at the first head still in time), and a body gets a timer only when it did
not arrive with its head: the cost per request is a few dict operations, no timer.
"""
from __future__ import annotations

import asyncio
import logging
import os
import resource
import time
from dataclasses import dataclass

from sanic.exceptions import RequestTimeout, SanicException, ServiceUnavailable
from sanic.http import Stage

from sanic_app.ops import metrics
from sanic_app.ops.logging import AccessLineProtocol, _AccessLineHttp

log = logging.getLogger("sanic_app.ops.edge")
# Descriptors each worker keeps free when it fits the cap under RLIMIT_NOFILE: one accept burst
# (up to the listen backlog, Sanic's 100) opens its sockets before any of them can be refused,
# plus what is not a client connection (gRPC channels, log and metric files, manager pipes).
FD_HEADROOM = 100 + 32
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
        self.sweeper = None

    @staticmethod
    def count(reason: str) -> None:
        """gateway_connections_closed_total{reason}: refused, evicted, head_timeout, body_timeout."""
        metrics.get_metrics().connection_closed(reason)

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
            self.count("refused")
            return False
        self.count("evicted")
        self.forget(victim)
        open_connections.discard(victim)  # counted out now; its transport closes on the next turn
        # idle: just closed; a slow head: answered 503 and closed (edge_end)
        victim.edge_end(ServiceUnavailable("connection closed to make room: its request head was too slow"))
        return True

    def forget(self, protocol) -> None:
        self.idle.pop(protocol, None)
        self.heads.pop(protocol, None)


class EdgeHttp(_AccessLineHttp):
    """Sanic's HTTP/1.1 cycle with phase bookkeeping, a header-count cap, and the answer hooks
    (sanic_app/ops/hooks.py) run as each response head is formatted."""

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

    async def http1_response_header(self, data: bytes, end_stream: bool) -> None:
        hooks = self.protocol.hooks
        if hooks is not None:
            hooks.answer(self.request, self.response)
        await super().http1_response_header(data, end_stream)


class EdgeProtocol(AccessLineProtocol):
    """The gateway's server protocol: access lines (ops.logging) plus the edge rules above.

    Heads are timed by the worker's sweep over ``book.heads`` (ordered by when each head
    began, so a sweep looks only at the expired front): no timer per request. A body gets a
    timer only when it is not already in the buffer with its head (the common small case).
    """

    HTTP_CLASS = EdgeHttp
    __slots__ = ("edge_book", "hooks", "_edge_timer", "_edge_body_of", "_edge_since", "_edge_refused")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.edge_book: ConnectionBook = self.app.ctx.connection_book
        self.hooks = getattr(self.app.ctx, "request_hooks", None)
        if self.hooks is not None:
            self.request_handler = self._handle_with_hooks
        self._edge_timer = None
        self._edge_body_of = None  # the request whose body the timer watches
        self._edge_since = 0.0
        self._edge_refused = False

    async def _handle_with_hooks(self, request):
        """The head hooks, then Sanic's own handling. A hook's exception is answered by Sanic's
        error path like a handler's (the connection stays usable)."""
        self.hooks.head(request)
        await self.app.handle_request(request)

    # --- asyncio callbacks ---

    def connection_made(self, transport):
        book = self.edge_book
        if not book.make_room(self.connections):
            self._edge_refused = True  # never set up: connection_lost has nothing to undo
            transport.write(REFUSAL)
            transport.close()
            return
        super().connection_made(transport)
        book.heads[self] = time.monotonic()  # the first head's clock runs from the accept

    def connection_lost(self, exc):
        if self._edge_refused:
            return
        self.edge_book.forget(self)
        self._edge_cancel_body_timer()
        super().connection_lost(exc)

    # --- phases (called by EdgeHttp and the sweep) ---

    def edge_idle(self) -> None:
        book = self.edge_book
        book.heads.pop(self, None)
        book.idle[self] = None

    def edge_head_started(self) -> None:
        book = self.edge_book
        book.idle.pop(self, None)
        if self not in book.heads:
            book.heads[self] = time.monotonic()

    def edge_head_done(self, http) -> None:
        self.edge_book.heads.pop(self, None)
        if http.request_body and (http.request_body == "chunked" or len(self.recv_buffer) < http.request_bytes):
            limits = self.edge_book.limits
            self._edge_body_of = http.request
            self._edge_since = time.monotonic()
            self._edge_cancel_body_timer()
            self._edge_timer = self.loop.call_later(
                limits.body_timeout_s + http.request_bytes / limits.body_min_rate, self._edge_body_check)

    def _edge_cancel_body_timer(self) -> None:
        if self._edge_timer is not None:
            self._edge_timer.cancel()
            self._edge_timer = None

    def _edge_body_check(self) -> None:
        self._edge_timer = None
        http = self._http
        if http is None or http.request is not self._edge_body_of or not http.request_body:
            return  # that body was read (or its request is over)
        limits = self.edge_book.limits  # a chunked body earns time as it arrives at the minimum rate
        left = limits.body_timeout_s + http.request_bytes / limits.body_min_rate - (time.monotonic() - self._edge_since)
        if left > 0.01:
            self._edge_timer = self.loop.call_later(left, self._edge_body_check)
            return
        self.edge_expire("body")

    def edge_expire(self, phase: str) -> None:
        self.edge_book.count(f"{phase}_timeout")
        log.debug("request %s not received within its deadline: closing the connection", phase)
        self.edge_end(RequestTimeout(f"request {phase} not received in time"))

    def edge_end(self, exception) -> None:
        """End the connection like Sanic ends its own timeouts: the task is cancelled with
        ``exception`` as the answer (a 408 or 503), then Sanic closes. (Closing the transport
        under a half-read head instead trips Sanic's own error path: a logged AttributeError.)
        An idle or never-used connection is just closed."""
        http = self._http
        self.edge_book.forget(self)
        if self._task is None or http is None or http.stage is Stage.IDLE:
            self.close()
            return
        http.exception = exception
        self._task.cancel()


SWEEP_S = 0.25


def _sweep(book: ConnectionBook, loop) -> None:
    """Every SWEEP_S: expire heads older than the deadline (the front of an ordered dict)."""
    deadline = time.monotonic() - book.limits.header_timeout_s
    heads = book.heads
    while heads:
        protocol, started = next(iter(heads.items()))
        if started > deadline:
            break
        del heads[protocol]
        try:
            protocol.edge_expire("head")
        except Exception:  # one broken connection must not stop the sweep
            log.exception("edge sweep")
    book.sweeper = loop.call_later(SWEEP_S, _sweep, book, loop)


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
    book = app.ctx.connection_book = ConnectionBook(limits, cap)
    loop = asyncio.get_running_loop()
    book.sweeper = loop.call_later(SWEEP_S, _sweep, book, loop)


async def close_book(app) -> None:
    book = getattr(app.ctx, "connection_book", None)
    if book is not None and book.sweeper is not None:
        book.sweeper.cancel()
