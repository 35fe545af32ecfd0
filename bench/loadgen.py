"""An HTTP/1.1 keep-alive load generator on asyncio (uvloop when present).

Why our own: on a 2-core machine the generator shares the CPUs with the gateway and the backend,
so it has to be cheap per request and honest about latency. Requests are pre-encoded bytes
written straight to the socket; responses are parsed by httptools (C, already a Sanic
dependency). Two ways to drive load:

* closed loop: ``concurrency`` connections, each sends its next request when the previous
  answer arrives (measures capacity; hides queueing, so never quote its latency as a service level);
* open loop: requests are due at a fixed rate whatever happened before, and latency is measured
  from the *intended* send time, so a stall that makes requests wait is charged to them
  (no coordinated omission).

Only requests that complete inside the measured window (after the warm-up) are counted. The
generator's own CPU time over the window is reported, so a reader can see whether it was the
bottleneck.
"""
from __future__ import annotations

import asyncio
import os
import time
from array import array
from collections import Counter
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Optional, Sequence

import httptools
import numpy as np

try:  # uvloop halves the generator's CPU per request; plain asyncio still works
    import uvloop
except ImportError:  # pragma: no cover
    uvloop = None

WindowHook = Callable[[], Awaitable[None]]
TICK_S = 0.001  # the open-loop scheduler's wake-up period
LATE_S = 0.002  # an open-loop send this far behind its intended time counts as late


def build_request(method: str, path: str, host: str, body: bytes = b"",
                  headers: Sequence[tuple[str, str]] = ()) -> bytes:
    """Encode one complete HTTP/1.1 keep-alive request, ready to write to a socket."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: keep-alive"]
    lines += [f"{name}: {value}" for name, value in headers]
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class ConnectionClosed(Exception):
    """The server closed the connection before the answer was complete."""


class _Connection(asyncio.Protocol):
    """One keep-alive connection: one request in flight at a time."""

    def __init__(self):
        self.transport = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: Optional[asyncio.Future] = None
        self.body_bytes = 0
        self.body_parts: Optional[list] = None  # only filled when the caller wants the body
        self.closed = False

    # asyncio.Protocol
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._finish_error(exc)

    def connection_lost(self, exc):
        self.closed = True
        self._finish_error(ConnectionClosed(str(exc) if exc else "closed by peer"))

    # httptools callbacks
    def on_body(self, body):
        self.body_bytes += len(body)
        if self.body_parts is not None:
            self.body_parts.append(body)

    def on_message_complete(self):
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(self.parser.get_status_code())
        if not self.parser.should_keep_alive() and self.transport is not None:
            self.transport.close()

    def _finish_error(self, exc):
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def send(self, request: bytes, keep_body: bool = False) -> asyncio.Future:
        self.waiter = asyncio.get_running_loop().create_future()
        self.body_parts = [] if keep_body else None
        self.transport.write(request)
        return self.waiter


async def _connect(host: str, port: int) -> _Connection:
    loop = asyncio.get_running_loop()
    _, conn = await loop.create_connection(_Connection, host, port)
    return conn


async def fetch(host: str, port: int, request: bytes, timeout: float = 10.0) -> tuple[int, bytes]:
    """One request on a fresh connection; returns (status, body). For probes and /metrics."""
    conn = await asyncio.wait_for(_connect(host, port), timeout)
    try:
        status = await asyncio.wait_for(conn.send(request, keep_body=True), timeout)
        return status, b"".join(conn.body_parts or ())
    finally:
        conn.transport.close()


@dataclass
class LoadResult:
    """What one run measured inside its window."""

    mode: str
    concurrency: int
    target_rate: Optional[float]
    window_s: float
    latencies_s: np.ndarray
    service_s: np.ndarray
    statuses: Counter
    generator_cpu_s: float
    response_bytes: int
    late_sends: int = 0  # open loop: requests that could not even start on time
    extra: dict = field(default_factory=dict)

    @property
    def completed(self) -> int:
        return int(sum(self.statuses.values()))

    def summary(self) -> dict:
        lat_ms = self.latencies_s * 1000.0
        pct = (np.percentile(lat_ms, [50, 90, 99]).tolist() if len(lat_ms) else [None] * 3)
        ok = sum(n for status, n in self.statuses.items() if str(status).startswith("2"))
        return {
            "mode": self.mode,
            "concurrency": self.concurrency,
            "target_rate": self.target_rate,
            "window_s": round(self.window_s, 3),
            "requests": self.completed,
            "ok": ok,
            "rps": self.completed / self.window_s if self.window_s else 0.0,
            "latency_ms": {
                "p50": pct[0], "p90": pct[1], "p99": pct[2],
                "max": float(lat_ms.max()) if len(lat_ms) else None,
                "mean": float(lat_ms.mean()) if len(lat_ms) else None,
            },
            "statuses": {str(k): v for k, v in sorted(self.statuses.items(), key=str)},
            "errors": {str(k): v for k, v in self.statuses.items() if not str(k).startswith("2")},
            "service_ms_p50": (float(np.percentile(self.service_s, 50) * 1000.0)
                               if len(self.service_s) else None),
            "generator_cpu_share": (self.generator_cpu_s / self.window_s) if self.window_s else 0.0,
            "response_bytes_per_request": self.response_bytes / max(self.completed, 1),
            "late_sends": self.late_sends,
        }


class _Recorder:
    """Collects completions that land inside the window; cheap enough for the hot loop."""

    def __init__(self):
        self.open = False
        self.latencies = array("d")  # from the intended send time (open loop) or the send
        self.service = array("d")  # from the actual send
        self.statuses: Counter = Counter()
        self.response_bytes = 0

    def record(self, latency: float, service: float, status, nbytes: int):
        if self.open:
            self.latencies.append(latency)
            self.service.append(service)
            self.statuses[status] += 1
            self.response_bytes += nbytes


async def _one(conn_box: list, host: str, port: int, request: bytes, timeout: float):
    """Send on the box's connection (reconnecting if needed); returns (status, body bytes)."""
    conn = conn_box[0]
    if conn is None or conn.closed:
        conn = conn_box[0] = await asyncio.wait_for(_connect(host, port), timeout)
    conn.body_bytes = 0
    try:
        status = await asyncio.wait_for(conn.send(request), timeout)
    except asyncio.TimeoutError:
        conn.transport.close()
        conn_box[0] = None
        return "timeout", 0
    except (ConnectionClosed, httptools.HttpParserError, OSError):
        conn_box[0] = None
        return "conn_error", 0
    return status, conn.body_bytes


async def _drive(host: str, port: int, requests: Sequence[bytes], *, concurrency: int,
                 rate: Optional[float], warmup_s: float, duration_s: float, timeout: float,
                 on_window_start: Optional[WindowHook], on_window_end: Optional[WindowHook]
                 ) -> LoadResult:
    now = time.perf_counter  # loop.time() is millisecond-grained under uvloop
    rec = _Recorder()
    stop = asyncio.Event()
    nreq = len(requests)
    late = [0]
    open_loop = rate is not None

    async def closed_worker(index: int):
        box = [None]
        i = index
        while not stop.is_set():
            start = now()
            try:
                status, nbytes = await _one(box, host, port, requests[i % nreq], timeout)
            except (OSError, asyncio.TimeoutError):
                status, nbytes = "conn_error", 0
                await asyncio.sleep(0.01)
            end = now()
            rec.record(end - start, end - start, status, nbytes)
            i += concurrency

    queue: asyncio.Queue = asyncio.Queue()

    async def open_worker(index: int):
        box = [None]
        while True:
            item = await queue.get()
            if item is None:
                return
            intended, i = item
            start = now()
            if start - intended > LATE_S:
                late[0] += 1
            try:
                status, nbytes = await _one(box, host, port, requests[i % nreq], timeout)
            except (OSError, asyncio.TimeoutError):
                status, nbytes = "conn_error", 0
            end = now()
            rec.record(end - intended, end - start, status, nbytes)

    async def scheduler():
        interval = 1.0 / rate
        t0 = now()
        i = 0
        while not stop.is_set():
            t = now()
            while t0 + i * interval <= t:  # everything already due goes out now
                queue.put_nowait((t0 + i * interval, i))
                i += 1
            # Event-loop timers tick in milliseconds; a shorter sleep would spin. The lag this
            # adds is charged to the requests (latency counts from the intended time).
            await asyncio.sleep(max(TICK_S, t0 + i * interval - now()))

    if open_loop:
        tasks = [asyncio.ensure_future(open_worker(k)) for k in range(concurrency)]
        tasks.append(asyncio.ensure_future(scheduler()))
    else:
        tasks = [asyncio.ensure_future(closed_worker(k)) for k in range(concurrency)]

    await asyncio.sleep(warmup_s)
    if on_window_start is not None:
        await on_window_start()
    cpu0, wall0 = _cpu_seconds(), time.perf_counter()
    rec.open = True
    await asyncio.sleep(duration_s)
    rec.open = False
    cpu1, wall1 = _cpu_seconds(), time.perf_counter()
    if on_window_end is not None:
        await on_window_end()
    stop.set()
    if open_loop:
        while not queue.empty():  # requests still waiting were never sent: drop them
            queue.get_nowait()
        for _ in range(concurrency):
            queue.put_nowait(None)
    # Let in-flight requests finish (bounded), then close everything.
    done, pending = await asyncio.wait(tasks, timeout=min(timeout, 5.0))
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    return LoadResult(
        mode="open" if open_loop else "closed",
        concurrency=concurrency,
        target_rate=rate,
        window_s=wall1 - wall0,
        latencies_s=np.frombuffer(rec.latencies, dtype=np.float64).copy(),
        service_s=np.frombuffer(rec.service, dtype=np.float64).copy(),
        statuses=rec.statuses,
        generator_cpu_s=cpu1 - cpu0,
        response_bytes=rec.response_bytes,
        late_sends=late[0],
    )


def _cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


def new_loop() -> asyncio.AbstractEventLoop:
    """A fresh event loop, uvloop's when installed."""
    return uvloop.new_event_loop() if uvloop is not None else asyncio.new_event_loop()


def fetch_blocking(host: str, port: int, request: bytes, timeout: float = 10.0) -> tuple[int, bytes]:
    """:func:`fetch` from code outside an event loop (probes, tests): on a loop of its own."""
    loop = new_loop()
    try:
        return loop.run_until_complete(fetch(host, port, request, timeout))
    finally:
        loop.close()


def run_load(host: str, port: int, requests: Sequence[bytes], *, concurrency: int = 16,
             rate: Optional[float] = None, warmup_s: float = 2.0, duration_s: float = 10.0,
             timeout: float = 30.0, on_window_start: Optional[WindowHook] = None,
             on_window_end: Optional[WindowHook] = None) -> LoadResult:
    """Drive load for warm-up + duration seconds and return what the window measured.

    ``rate=None`` is a closed loop with ``concurrency`` connections; a number is an open loop
    at that many requests/s served by up to ``concurrency`` connections.
    """
    if not requests:
        raise ValueError("need at least one request")
    loop = new_loop()
    try:
        return loop.run_until_complete(_drive(
            host, port, list(requests), concurrency=concurrency, rate=rate, warmup_s=warmup_s,
            duration_s=duration_s, timeout=timeout, on_window_start=on_window_start,
            on_window_end=on_window_end))
    finally:
        loop.close()
