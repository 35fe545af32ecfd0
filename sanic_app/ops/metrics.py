"""Prometheus metrics that stay correct when several Sanic worker processes serve.

Sanic workers are separate (spawned) processes, so each counts on its own; a scrape, which any
one worker answers, must sum them all. Each worker keeps its numbers in a small shared-memory
file of float64 cells (``tfsgw_<pid>.bin``, an mmap) and logs which cells hold which series in
``tfsgw_<pid>.keys`` (one JSON line per series, written once when the series first appears).
A scrape reads every worker's pair and sums them. On the hot path an observation is a bisect
and two in-place float additions on the mmap: no lock, no syscall, no file write.

We measured prometheus_client's multiprocess mode (a lock, a pid check and a struct.pack per
value) at ~2 us per histogram observation, ~20 us per request with seven stages; this store
does the same request in ~3 us (figures in the README's operations section).

The directory is per run: :func:`prepare_multiprocess_dir` empties (or creates) it in the main
process *before* Sanic spawns workers; its path travels to them in ``Settings.metrics_dir`` and
each worker binds it with :func:`use_directory` as it starts. Counts of workers that
exited stay in the sum (their requests happened); the in-flight gauge only sums live workers.

Metric names are a contract with bench/ (keep them):
  gateway_stage_seconds{model,stage}          histogram, stage in STAGES
  gateway_request_seconds{route,model}        histogram
  gateway_requests_total{route,model,status}  counter
  gateway_in_flight                           gauge (sum over live workers)
  gateway_backend_errors_total{model,code}    counter, code = gRPC status name
"""
from __future__ import annotations

import atexit
import glob
import json
import math
import mmap
import os
import shutil
import tempfile
from bisect import bisect_left
from typing import Mapping

import numpy as np

from sanic_app.core.stages import STAGES  # gateway_stage_seconds only accepts these

# Sub-millisecond resolution matters: most stages take tens of microseconds to a few ms.
STAGE_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
)
REQUEST_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)

# Label used where a request names no (known) model, so URL junk never mints new series.
NO_MODEL = ""

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
CELLS = 65536  # float64 cells per worker (512 KiB, sparse until used): ~3800 histogram series

HELP = {
    "gateway_stage_seconds": ("histogram", "Time spent in one pipeline stage."),
    "gateway_request_seconds": ("histogram", "Whole-request latency inside the gateway."),
    "gateway_requests_total": ("counter", "Answered requests by route, model and HTTP status."),
    "gateway_in_flight": ("gauge", "Requests being handled now (summed over live workers)."),
    "gateway_backend_errors_total": ("counter", "Failed backend calls by gRPC status code name."),
    "gateway_connections_closed_total": ("counter", "Connections the edge closed or refused, by reason "
                                         "(refused, evicted, head_timeout, body_timeout)."),
}


# --- the run directory (main process) ---------------------------------------------------------

def prepare_multiprocess_dir(path: str | None = None) -> str:
    """Name and empty the per-run metrics directory; call in the main process before workers.

    ``path`` is used if given, and only our own files in it are removed; otherwise a fresh
    temporary directory is made and removed when this process exits.
    """
    if path:
        os.makedirs(path, exist_ok=True)
        for stale in glob.glob(os.path.join(path, "tfsgw_*.bin")) + glob.glob(os.path.join(path, "tfsgw_*.keys")):
            os.remove(stale)
    else:
        path = tempfile.mkdtemp(prefix="tfsgw-metrics-")
        atexit.register(_remove_own_dir, path, os.getpid())
    return path


_directory: str | None = None  # this process's run directory, once bound


def use_directory(path: str | None) -> None:
    """Bind this process (a worker, as it starts) to the run's metrics directory."""
    global _directory
    _directory = path


def _private_dir() -> str:
    path = tempfile.mkdtemp(prefix="tfsgw-metrics-")
    atexit.register(_remove_own_dir, path, os.getpid())
    return path


def _remove_own_dir(path: str, owner: int) -> None:
    if os.getpid() == owner:
        shutil.rmtree(path, ignore_errors=True)


# --- this process's cells ---------------------------------------------------------------------

class _Store:
    """One process's float64 cells (an mmap'ed file) and the log of which series own them.

    Written only from the worker's event-loop thread (answer hooks and error handler), so the
    in-place additions need no lock.
    """

    def __init__(self, directory: str, pid: int):
        self.pid = pid
        base = os.path.join(directory, f"tfsgw_{pid}")
        fd = os.open(base + ".bin", os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.ftruncate(fd, CELLS * 8)
            self._map = mmap.mmap(fd, CELLS * 8)
        finally:
            os.close(fd)
        self.cells = memoryview(self._map).cast("d")
        self._keys = open(base + ".keys", "w", encoding="utf-8")
        self._used = 0
        self._scratch = memoryview(bytearray(8 * 64)).cast("d")

    def allocate(self, size: int, kind: str, name: str, labels: dict, bounds=()):
        """(cells, first index) for a new series; its key line is on disk before first use."""
        if self._used + size > CELLS:
            return self._scratch, 0  # full: keep serving, stop recording new series
        first = self._used
        self._used += size
        self._keys.write(json.dumps([first, kind, name, labels, list(bounds)]) + "\n")
        self._keys.flush()
        return self.cells, first


class _Histogram:
    """Non-cumulative bucket counts (the last is +Inf), then the sum."""

    __slots__ = ("cells", "first", "bounds", "sum_index")

    def __init__(self, store: _Store, name: str, labels: dict, bounds: tuple):
        self.bounds = bounds
        self.cells, self.first = store.allocate(len(bounds) + 2, "histogram", name, labels, bounds)
        self.sum_index = self.first + len(bounds) + 1

    def observe(self, value: float) -> None:
        cells = self.cells
        cells[self.first + bisect_left(self.bounds, value)] += 1.0
        cells[self.sum_index] += value


class _Value:
    """A counter or gauge cell."""

    __slots__ = ("cells", "index")

    def __init__(self, store: _Store, kind: str, name: str, labels: dict):
        self.cells, self.index = store.allocate(1, kind, name, labels)

    def inc(self, amount: float = 1.0) -> None:
        self.cells[self.index] += amount

    def get(self) -> float:
        return self.cells[self.index]


class GatewayMetrics:
    """This process's series, made on first use and cached by label values."""

    def __init__(self, directory: str | None = None):
        # No run directory (a process nobody prepared, e.g. a unit test): a private one, so
        # nothing leaks into the environment of processes this one starts.
        directory = directory or _directory or _private_dir()
        self.directory = directory
        self._store = _Store(directory, os.getpid())
        self._series: dict[tuple, object] = {}
        self.in_flight = _Value(self._store, "gauge_live", "gateway_in_flight", {})

    def _histogram(self, name: str, bounds: tuple, **labels) -> _Histogram:
        key = (name,) + tuple(labels.values())
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = _Histogram(self._store, name, labels, bounds)
        return series

    def _counter(self, name: str, **labels) -> _Value:
        key = (name,) + tuple(labels.values())
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = _Value(self._store, "counter", name, labels)
        return series

    def observe_request(
        self, route: str, model: str, status: int, seconds: float,
        stages: Mapping[str, float] | None = None,
    ) -> None:
        """Record one answered request and the stages it went through."""
        series = self._series
        key = ("r", route, model)
        request = series.get(key)
        if request is None:
            request = series[key] = self._histogram(
                "gateway_request_seconds", REQUEST_BUCKETS, route=route, model=model)
        request.observe(seconds)
        key = ("n", route, model, status)
        count = series.get(key)
        if count is None:
            count = series[key] = self._counter(
                "gateway_requests_total", route=route, model=model, status=str(status))
        count.inc()
        if stages:
            for stage, spent in stages.items():
                key = ("s", model, stage)
                hist = series.get(key)
                if hist is None:
                    if stage not in STAGES:
                        continue
                    hist = series[key] = self._histogram(
                        "gateway_stage_seconds", STAGE_BUCKETS, model=model, stage=stage)
                hist.observe(spent)

    def observe_stage(self, model: str, stage: str, seconds: float) -> None:
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}; expected one of {STAGES}")
        self._histogram("gateway_stage_seconds", STAGE_BUCKETS, model=model, stage=stage).observe(seconds)

    def backend_error(self, model: str, code: str) -> None:
        self._counter("gateway_backend_errors_total", model=model, code=code).inc()

    def connection_closed(self, reason: str) -> None:
        """The edge (sanic_app/ops/edge.py) closed or refused a connection."""
        self._counter("gateway_connections_closed_total", reason=reason).inc()


_metrics: GatewayMetrics | None = None
_metrics_pid: int | None = None


def get_metrics() -> GatewayMetrics:
    """This process's GatewayMetrics, made on first use (so inside the worker, never at import)."""
    global _metrics, _metrics_pid
    if _metrics is None or _metrics_pid != os.getpid():
        _metrics = GatewayMetrics()
        _metrics_pid = os.getpid()
    return _metrics


def worker_exiting() -> None:
    """Zero this worker's in-flight gauge (a clean stop; a crash is caught by the pid check)."""
    if _metrics is not None and _metrics_pid == os.getpid():
        _metrics.in_flight.cells[_metrics.in_flight.index] = 0.0


# --- scrape: sum every worker's cells -----------------------------------------------------------

def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_keys(path: str) -> list:
    with open(path, encoding="utf-8") as f:
        text = f.read()
    lines = text.split("\n")[:-1]  # a line still being written has no newline yet
    return [json.loads(line) for line in lines if line]


def collect(directory: str) -> dict:
    """{name: {label tuple: (kind, bounds, np.ndarray of summed cells)}} over all workers."""
    merged: dict = {}
    for keys_path in glob.glob(os.path.join(directory, "tfsgw_*.keys")):
        pid = int(os.path.basename(keys_path)[len("tfsgw_"):-len(".keys")])
        try:
            keys = _read_keys(keys_path)
            cells = np.fromfile(keys_path[: -len(".keys")] + ".bin", dtype="<f8")
        except (OSError, ValueError):
            continue  # a file vanished mid-scrape (directory being emptied): skip it
        live = None
        for first, kind, name, labels, bounds in keys:
            if kind == "gauge_live":
                live = _pid_alive(pid) if live is None else live
                if not live:
                    continue
            size = len(bounds) + 2 if kind == "histogram" else 1
            values = cells[first:first + size]
            label_key = tuple(sorted(labels.items()))
            series = merged.setdefault(name, {})
            if label_key in series:
                series[label_key][2][:] += values
            else:
                series[label_key] = (kind, tuple(bounds), values.copy())
    return merged


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def _escape(value) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(pairs) -> str:
    if not pairs:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in pairs) + "}"


def exposition(merged: dict) -> bytes:
    """Prometheus text format 0.0.4 for ``collect``'s result (every known metric, even empty)."""
    lines = []
    for name, (kind, help_text) in HELP.items():
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")
        series = merged.get(name, {})
        if kind == "gauge" and not series:
            lines.append(f"{name} 0.0")
        for label_key in sorted(series):
            _, bounds, values = series[label_key]
            if kind == "histogram":
                running = 0.0
                for bound, count in zip(tuple(bounds) + (math.inf,), values[:-1]):
                    running += count
                    lines.append(f"{name}_bucket{_labels(label_key + (('le', _number(bound)),))} {_number(running)}")
                lines.append(f"{name}_count{_labels(label_key)} {_number(running)}")
                lines.append(f"{name}_sum{_labels(label_key)} {_number(values[-1])}")
            else:
                lines.append(f"{name}{_labels(label_key)} {_number(values[0])}")
    return ("\n".join(lines) + "\n").encode()


def render() -> tuple[bytes, str]:
    """The merged exposition of every worker of this run, and its content type."""
    directory = get_metrics().directory
    return exposition(collect(directory)), CONTENT_TYPE
