"""Limits on untrusted requests, and the per-worker in-flight limiter.

Every check is cheap and runs before the expensive step it protects: the body size before
reading it (Sanic's REQUEST_MAX_SIZE), JSON depth before parsing, batch size and number of
inputs before building tensors. The pixel count is checked from the image header before
decoding by sanic_app.core.imaging; Pillow's own guard is set to the same limit here. A
failed check raises :class:`LimitExceeded`, which carries the HTTP status and a message meant
for the client.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sanic_app.errors import InvalidArgument


@dataclass(frozen=True)
class Limits:
    """Configurable limits; the defaults are safe for a public endpoint on a small box."""

    # Whole request body. 413 from Sanic before the body is read.
    max_body_bytes: int = 64 * 1024 * 1024
    # One image's width * height, read from its header before decoding (decompression bombs).
    # 40 MP covers phone and DSLR photos; decoded RGB that is 120 MB.
    max_image_pixels: int = 40_000_000
    # Leading dimension of any input (number of images / instances) in one request.
    max_batch: int = 256
    # Nesting of arrays and objects in a JSON body; a rank-4 "instances" tensor needs ~6.
    max_json_depth: int = 32
    # Named inputs in one request.
    max_inputs: int = 32
    # Requests one worker handles at once; the next ones get 429 at once instead of queueing.
    max_in_flight: int = 256

    def __post_init__(self):
        for name, value in vars(self).items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"limit {name} must be a positive integer, got {value!r}")


class LimitExceeded(InvalidArgument):
    """A request broke a limit; ``status`` is the HTTP status (413, or 400 for JSON depth).

    A GatewayError, so the app's one error handler answers it as {"error": message}.
    """

    def __init__(self, message: str, status: int = 413, limit: str = ""):
        super().__init__(message)
        self.http_status = status
        self.limit = limit


_configured = Limits()


def configure(limits: Limits) -> None:
    """Set this process's limits (each worker, from Settings, at start)."""
    global _configured
    _configured = limits


def current() -> Limits:
    return _configured


def check_batch(size: int, limits: Limits, what: str = "batch") -> None:
    if size > limits.max_batch:
        raise LimitExceeded(
            f"{what} size {size} exceeds the limit of {limits.max_batch}", 413, "max_batch"
        )


def check_inputs(count: int, limits: Limits) -> None:
    if count > limits.max_inputs:
        raise LimitExceeded(
            f"{count} inputs exceed the limit of {limits.max_inputs}", 413, "max_inputs"
        )


def apply_pillow_limit(limits: Limits) -> None:
    """Make Pillow itself refuse bombs too, in case a path skips our header check.

    Pillow warns above MAX_IMAGE_PIXELS and raises DecompressionBombError above twice that;
    we set it to our limit so Pillow's hard stop sits at 2x ours.
    """
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = limits.max_image_pixels


# Byte tricks for the vectorised JSON scan: OR-ing 0x20 folds "[" onto "{" and "]" onto "}",
# and bit 1 tells an opening bracket (0x7B) from a closing one (0x7D).
_FOLD = 0x20
_OPEN_FOLDED, _CLOSE_FOLDED = 0x7B, 0x7D
_QUOTE, _BACKSLASH = 0x22, 0x5C


def _unescaped_quotes(data: np.ndarray) -> np.ndarray:
    """Positions of the quotes that delimit strings (not preceded by an odd backslash run)."""
    quotes = np.flatnonzero(data == _QUOTE)
    if not quotes.size:
        return quotes
    after_backslash = quotes[(quotes > 0) & (data[np.maximum(quotes - 1, 0)] == _BACKSLASH)]
    if not after_backslash.size:
        return quotes
    backslash = data == _BACKSLASH
    run_starts = np.flatnonzero(backslash & ~np.concatenate(([False], backslash[:-1])))
    starts = run_starts[np.searchsorted(run_starts, after_backslash - 1, side="right") - 1]
    escaped = after_backslash[((after_backslash - starts) & 1) == 1]
    return np.setdiff1d(quotes, escaped, assume_unique=True) if escaped.size else quotes


def json_depth(body: bytes | bytearray | memoryview) -> int:
    """Maximum nesting of arrays/objects in a JSON text, without parsing it.

    Brackets inside strings do not count (escaped quotes handled). Works on malformed JSON
    too (then it is an estimate; the parser rejects the body anyway). A few vectorised passes
    over the bytes: linear time, no recursion, no per-byte Python.
    """
    data = np.frombuffer(body, dtype=np.uint8)
    folded = data | _FOLD
    positions = np.flatnonzero((folded == _OPEN_FOLDED) | (folded == _CLOSE_FOLDED))
    if not positions.size:
        return 0
    quotes = _unescaped_quotes(data)
    if quotes.size:  # inside a string when an odd number of quotes come before
        positions = positions[(np.searchsorted(quotes, positions) & 1) == 0]
        if not positions.size:
            return 0
    steps = ((folded[positions] >> 1) & 1).astype(np.int8) * 2 - 1
    return int(np.cumsum(steps, dtype=np.int64).max())


def check_json_depth(body: bytes | bytearray | memoryview, limits: Limits) -> None:
    """Refuse JSON nested deeper than the limit (400), cheaply for ordinary bodies."""
    data = np.frombuffer(body, dtype=np.uint8)
    # Fast path (one pass): no more opening brackets than the limit, no deeper nesting.
    if np.count_nonzero((data | _FOLD) == _OPEN_FOLDED) <= limits.max_json_depth:
        return
    depth = json_depth(body)
    if depth > limits.max_json_depth:
        raise LimitExceeded(
            f"JSON nested {depth} levels deep; the limit is {limits.max_json_depth}",
            400,
            "max_json_depth",
        )


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
        self.on_change = None  # optional callback(+1/-1), see install_in_flight_limit

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
    """One admitted request. Released by the response middleware, or, if the client went away
    and Sanic skipped response middleware, when its connection closes (or, last resort, when
    the request object is freed)."""

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


# Routes never refused for load: probes and scrapes must answer most when the gateway is busy.
EXEMPT_ROUTES = frozenset({"healthz", "readyz", "metrics"})


def install_in_flight_limit(app, limit: int, exempt=EXEMPT_ROUTES, on_change=None) -> InFlightLimiter:
    """Refuse requests past ``limit`` per worker with 429 + Retry-After, before any work.

    Admission happens right after routing, before Sanic reads the body: a refused request
    costs no body buffer (Sanic drains and discards the rest), so memory under overload is
    bounded by the admitted requests. ``on_change(+1/-1)`` follows admissions (the
    gateway_in_flight gauge). The limiter is per process.
    """
    from sanic.exceptions import SanicException

    limiter = InFlightLimiter(limit)
    limiter.on_change = on_change
    message = f"gateway overloaded: {limit} requests already in flight in this worker; retry later"

    class _Refused(SanicException):
        status_code = 429
        quiet = True  # expected under load: no traceback in the log
        headers = {"Retry-After": "1"}

    @app.signal("http.routing.after")
    async def _admit(request, route, kwargs, handler):
        if route.name.rsplit(".", 1)[-1] in exempt:
            return
        if not limiter.try_acquire():
            raise _Refused(message)
        slot = _Slot(limiter)
        request.ctx.in_flight_slot = slot
        if request.conn_info is not None:  # HTTP/1.1: one request at a time per connection
            request.conn_info.ctx.in_flight_slot = slot
        if on_change is not None:
            on_change(+1)

    @app.on_response(priority=900)
    async def _release(request, response):
        slot = getattr(request.ctx, "in_flight_slot", None)
        if slot is not None:
            slot.release()

    @app.signal("http.lifecycle.complete")
    async def _connection_closed(conn_info):
        # A client that hung up mid-request skips response middleware; free its slot here.
        slot = getattr(conn_info.ctx, "in_flight_slot", None)
        if slot is not None:
            slot.release()

    return limiter


def from_settings(settings) -> Limits:
    """The Limits a Settings object asks for."""
    return Limits(
        max_body_bytes=settings.max_body_bytes,
        max_image_pixels=settings.max_image_pixels,
        max_batch=settings.max_batch,
        max_json_depth=settings.max_json_depth,
        max_inputs=settings.max_inputs,
        max_in_flight=settings.max_in_flight,
    )
