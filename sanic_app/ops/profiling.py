"""The profile switch: profile prediction requests inside the worker that serves them.

Off by default, and then nothing of this module runs: the app factory registers the profiler
only when the operator asked for profiles, so an unprofiled gateway pays no per-request cost.

When on, one prediction request in N (per worker) is recorded with pyinstrument and written
where the operator said, as a file people open directly: pyinstrument's self-contained HTML
page (opens offline in any browser) or speedscope JSON (drop it on speedscope.app or the
``speedscope`` CLI). Why pyinstrument rather than cProfile: measured on a decode+resize+pack
request (5 ms), both add about 1 ms with output written, but pyinstrument's async mode records
only the profiled request's own task, whereas cProfile would also charge this request with
every other request the event loop ran while it awaited the backend.

Output modes: ``request`` writes one file per profiled request
(``<UTC time>-<request id>-<pid>.<n>.html``);
``aggregate`` merges every profiled request of a worker into ``aggregate-<pid>.<ext>``,
rewritten at most every AGGREGATE_WRITE_EVERY_S and at shutdown (rendering grows with the
samples: rewriting it per request was measured at 280 ms a request). Past a sample cap the
merged profile is resampled to a coarser interval, so a long run's memory and rendering time
stay bounded while the proportions stay right.
"""
from __future__ import annotations

import asyncio
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

PROFILE_OUTPUTS = ("request", "aggregate")
PROFILE_FORMATS = ("html", "speedscope")
EXTENSIONS = {"html": "html", "speedscope": "speedscope.json"}
# 100 µs: a 5 ms request yields ~50 samples; the measured cost is the same as at 1 ms.
SAMPLE_INTERVAL_S = 0.0001
# A profile still open after this long belongs to a request that never finished (client gone).
ABANDONED_AFTER_S = 300.0
MAX_AGGREGATE_SAMPLES = 200_000
AGGREGATE_WRITE_EVERY_S = 10.0
INSTALL_HINT = "pip install 'tfserving-gateway[profile]' (it adds pyinstrument)"

log = logging.getLogger("sanic_app.ops.profiling")
_UNSAFE_IN_FILENAME = re.compile(r"[^A-Za-z0-9._-]")


class ProfilerUnavailable(RuntimeError):
    """--profile was asked for but pyinstrument is not installed."""


def require_pyinstrument() -> None:
    """Fail at start-up, not at the first request, when the profiler is missing."""
    try:
        import pyinstrument  # noqa: F401
    except ImportError:
        raise ProfilerUnavailable(f"--profile needs pyinstrument: {INSTALL_HINT}") from None


def is_prediction(request) -> bool:
    """TF Serving's REST form: POST /v1/models/<name>[/versions/<v>|/labels/<l>]:predict."""
    return request.method == "POST" and request.path.endswith(":predict")


@dataclass(frozen=True)
class ProfileOptions:
    every: int = 1
    directory: str = "profiles"
    output: str = "request"
    format: str = "html"

    def __post_init__(self):
        if self.every < 1:
            raise ValueError(f"profile every must be >= 1, got {self.every}")
        if self.output not in PROFILE_OUTPUTS:
            raise ValueError(f"profile output must be one of {', '.join(PROFILE_OUTPUTS)}, got {self.output!r}")
        if self.format not in PROFILE_FORMATS:
            raise ValueError(f"profile format must be one of {', '.join(PROFILE_FORMATS)}, got {self.format!r}")


def render(session, fmt: str) -> str:
    """A pyinstrument session as the text of an HTML page or a speedscope document."""
    from pyinstrument.renderers import HTMLRenderer, SpeedscopeRenderer

    renderer = HTMLRenderer() if fmt == "html" else SpeedscopeRenderer()
    return renderer.render(session)


def _write_atomically(path: Path, text: str) -> None:
    # A name of its own per writer thread, so two writers never share a partial file.
    partial = path.with_name(f".{path.name}.{threading.get_ident()}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


class PredictionProfiler:
    """Starts a profiler in request middleware, stops and writes it in response middleware."""

    def __init__(self, options: ProfileOptions, *, selects: Callable = is_prediction):
        require_pyinstrument()
        self.options = options
        self.selects = selects
        self.directory = Path(options.directory)
        self.extension = EXTENSIONS[options.format]
        self.seen = 0
        self.written: list[Path] = []
        self._open: dict[int, tuple[float, object]] = {}  # id(profiler) -> (started, profiler)
        self._aggregate = None
        self._unmerged: list = []
        self._last_aggregate_write = float("-inf")
        self._aggregate_writing: asyncio.Future | None = None
        self._pending: set[asyncio.Future] = set()

    # --- middleware -------------------------------------------------------------------------
    async def on_request(self, request) -> None:
        if not self.selects(request):
            return
        self.seen += 1
        if (self.seen - 1) % self.options.every:
            return
        from pyinstrument import Profiler

        self._close_abandoned()
        profiler = Profiler(interval=SAMPLE_INTERVAL_S, async_mode="enabled")
        profiler.start(target_description=f"{request.method} {request.path}")
        self._open[id(profiler)] = (time.monotonic(), profiler)
        request.ctx.profiler = profiler

    async def on_response(self, request, response) -> None:
        profiler = getattr(request.ctx, "profiler", None)
        if profiler is None:
            return
        request.ctx.profiler = None
        self._open.pop(id(profiler), None)
        session = profiler.stop()
        request_id = getattr(request.ctx, "request_id", None) or f"{os.getpid()}-{self.seen}"
        self._keep(session, request_id)

    # --- output -----------------------------------------------------------------------------
    def _keep(self, session, request_id: str) -> None:
        if self.options.output == "request":
            # time first so a folder lists in order; pid and count keep names unique even
            # when clients reuse an X-Request-ID or two workers profile in the same second
            stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
            safe_id = _UNSAFE_IN_FILENAME.sub("_", request_id)
            name = f"{stamp}-{safe_id}-{os.getpid()}.{self.seen}.{self.extension}"
            self._write_later(self.directory / name, session)
            return
        self._unmerged.append(session)
        writing = self._aggregate_writing is not None and not self._aggregate_writing.done()
        if not writing and time.monotonic() - self._last_aggregate_write >= AGGREGATE_WRITE_EVERY_S:
            self._write_aggregate()

    def _merge(self):
        """Fold the sessions profiled since the last write into the aggregate (bounded)."""
        from pyinstrument.session import Session

        # Pairwise, so merging k sessions copies each sample log2(k) times, not k times.
        sessions = ([self._aggregate] if self._aggregate is not None else []) + self._unmerged
        while len(sessions) > 1:
            pairs = [sessions[i:i + 2] for i in range(0, len(sessions), 2)]
            sessions = [Session.combine(*pair) if len(pair) == 2 else pair[0] for pair in pairs]
        self._aggregate = sessions[0]
        self._unmerged.clear()
        while self._aggregate.sample_count > MAX_AGGREGATE_SAMPLES:
            self._aggregate = self._aggregate.resample(self._aggregate.max_interval * 2)
        return self._aggregate

    def _write_aggregate(self) -> None:
        if not self._unmerged:
            return
        self._last_aggregate_write = time.monotonic()
        self._aggregate_writing = self._write_later(self._aggregate_path(), self._merge())

    def _aggregate_path(self) -> Path:
        return self.directory / f"aggregate-{os.getpid()}.{self.extension}"

    def _write_later(self, path: Path, session) -> asyncio.Future:
        """Render and write off the event loop thread, so the response is not held up."""
        future = asyncio.get_running_loop().run_in_executor(None, self._write, path, session)
        self._pending.add(future)
        future.add_done_callback(self._pending.discard)
        return future

    def _write(self, path: Path, session) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            _write_atomically(path, render(session, self.options.format))
            self.written.append(path)
            log.info("profile written", extra={"profile": str(path)})
        except Exception:  # a profile that cannot be written must never fail a request
            log.exception("could not write profile %s", path)

    def _close_abandoned(self) -> None:
        """Stop profilers of requests that never reached the response (client went away)."""
        now = time.monotonic()
        for key, (started, profiler) in list(self._open.items()):
            if now - started > ABANDONED_AFTER_S:
                del self._open[key]
                try:
                    profiler.stop()
                except RuntimeError:
                    pass

    async def announce(self, app) -> None:
        """Worker start: say where the profiles go."""
        o = self.options
        log.info("profiling one prediction in %d into %s (%s, %s)", o.every, o.directory, o.output, o.format)

    async def flush(self, app) -> None:
        """Worker stop: write every profile still pending."""
        await self.drain()

    async def drain(self) -> None:
        """Write what is still unwritten and wait for it (server stop, tests)."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)
        self._write_aggregate()
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)
