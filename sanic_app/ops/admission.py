"""Admission: at most ``max_in_flight`` requests per worker; the next ones get 429 at once.

Refusing at once keeps latency and memory bounded under overload: a queue in front of a
saturated backend only turns every request into a timeout. Admission happens right after
routing, before Sanic reads the body, so a refused request costs no body buffer. The app
factory registers :class:`Admission`'s head and answer hooks (sanic_app/ops/hooks.py) and its
connection-close signal.
"""
from __future__ import annotations

from sanic.exceptions import SanicException

# Routes never refused for load: probes and scrapes must answer most when the gateway is busy.
EXEMPT_ROUTES = frozenset({"healthz", "readyz", "metrics", "v2_health_live", "v2_health_ready"})


class InFlightLimiter:
    """Counts requests a worker is handling and refuses new ones past ``limit``.

    Refusing at once (429) keeps latency and memory bounded under overload: a queue in
    front of a saturated backend only turns every request into a timeout. One per worker;
    single-threaded (the event loop), so a plain int is enough.
    """

    def __init__(self, limit: int):
        if limit < 1:
            raise ValueError("in-flight limit must be >= 1")
        self.limit = limit
        self.current = 0
        self.admitted = 0  # ever, so idle watchers (sanic_app.ops.memory) can tell traffic happened
        self.refused = 0
        self.on_change = None  # optional callback(+1/-1), see Admission

    def try_acquire(self) -> bool:
        if self.current >= self.limit:
            self.refused += 1
            return False
        self.current += 1
        self.admitted += 1
        return True

    def release(self) -> None:
        if self.current > 0:
            self.current -= 1


class _Slot:
    """One admitted request. Released by the answer hook, or, if the client went away before
    any answer, when its connection closes (or, last resort, when the request object is freed)."""

    __slots__ = ("_limiter", "_held")

    def __init__(self, limiter: InFlightLimiter):
        self._limiter = limiter
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._limiter.release()
            if self._limiter.on_change is not None:
                self._limiter.on_change(-1)

    def __del__(self):
        self.release()


class Overloaded(SanicException):
    status_code = 429
    quiet = True  # expected under load: no traceback in the log
    headers = {"Retry-After": "1"}


class Admission:
    """The in-flight limiter and the request hooks that drive it, for one worker.

    ``on_change(+1/-1)`` follows admissions (the gateway_in_flight gauge).
    """

    def __init__(self, limit: int, exempt=EXEMPT_ROUTES, on_change=None):
        self.limiter = InFlightLimiter(limit)
        self.limiter.on_change = on_change
        self.exempt = exempt
        self.message = f"gateway overloaded: {limit} requests already in flight in this worker; retry later"

    def admit(self, request) -> None:
        """Head hook: take a slot or refuse with 429 (unmatched requests take none)."""
        route = request.route
        if route is None or route.name.rsplit(".", 1)[-1] in self.exempt:
            return
        limiter = self.limiter
        if not limiter.try_acquire():
            raise Overloaded(self.message)
        slot = _Slot(limiter)
        request.ctx.in_flight_slot = slot
        if request.conn_info is not None:  # HTTP/1.1: one request at a time per connection
            request.conn_info.ctx.in_flight_slot = slot
        if limiter.on_change is not None:
            limiter.on_change(+1)

    @staticmethod
    def release(request, response) -> None:
        """Answer hook: give the slot back."""
        slot = getattr(request.ctx, "in_flight_slot", None)
        if slot is not None:
            slot.release()

    @staticmethod
    async def connection_closed(conn_info):
        """Signal ``http.lifecycle.complete``: a client that hung up mid-request skips
        the answer hook; free its slot here."""
        slot = getattr(conn_info.ctx, "in_flight_slot", None)
        if slot is not None:
            slot.release()
