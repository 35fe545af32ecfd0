"""Prometheus metrics that stay correct when several Sanic worker processes serve.

Sanic workers are separate (spawned) processes, so each keeps its own counters. We use
prometheus_client's multiprocess mode: every worker writes its samples into small mmap files
in one per-run directory, and a scrape, answered by any worker, merges all of them. The
directory must be named in ``PROMETHEUS_MULTIPROC_DIR`` *before* workers start (they inherit
the environment) and emptied at start, so a new run never adds last run's counts:
:func:`prepare_multiprocess_dir` does both and runs in the main process.

Hot-path cost (measured on the 2-core dev box, see README "Metrics, health and limits"):
about 2 µs per histogram observation and 1 µs per counter/gauge step, so a whole request with
seven stages costs ~20 µs. Children are cached per label tuple to skip prometheus_client's
label validation on every call.

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
import os
import shutil
import tempfile
from typing import Mapping

DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"

# The pipeline's stages, in order; gateway_stage_seconds only accepts these.
STAGES = ("decode", "preprocess", "pack", "backend", "unpack", "postprocess", "serialize")

# Sub-millisecond resolution matters: most stages take tens of microseconds to a few ms.
STAGE_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
)
REQUEST_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)

# Label used where a request names no (known) model, so URL junk never mints new series.
NO_MODEL = ""


def prepare_multiprocess_dir(path: str | None = None) -> str:
    """Name and empty the per-run metrics directory; call in the main process before workers.

    ``path`` (else ``$PROMETHEUS_MULTIPROC_DIR``) is used if given and only its ``*.db`` files
    are removed; otherwise a fresh temporary directory is made and removed at exit.
    """
    path = path or os.environ.get(DIR_ENV)
    if path:
        os.makedirs(path, exist_ok=True)
        for stale in glob.glob(os.path.join(path, "*.db")):
            os.remove(stale)
    else:
        path = tempfile.mkdtemp(prefix="tfsgw-metrics-")
        owner = os.getpid()
        atexit.register(_remove_own_dir, path, owner)
    os.environ[DIR_ENV] = path
    _switch_value_class_if_needed()
    return path


def _remove_own_dir(path: str, owner: int) -> None:
    if os.getpid() == owner:
        shutil.rmtree(path, ignore_errors=True)


def _switch_value_class_if_needed() -> None:
    """prometheus_client picks its value store at import; redo that if it came too early.

    Only matters when the serving process is the one that set the variable (single-process
    runs, tests); spawned workers inherit the variable before they import anything.
    """
    from prometheus_client import values

    if os.environ.get(DIR_ENV) and not getattr(values.ValueClass, "_multiprocess", False):
        values.ValueClass = values.get_value_class()


class GatewayMetrics:
    """This process's metric objects, with label children cached for the hot path."""

    def __init__(self, registry=None):
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        _switch_value_class_if_needed()
        # Our own registry: the samples live in the mmap files, and a scrape reads those
        # through MultiProcessCollector, never through this registry.
        registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self.registry = registry
        self.stage_seconds = Histogram(
            "gateway_stage_seconds", "Time spent in one pipeline stage.",
            ["model", "stage"], buckets=STAGE_BUCKETS, registry=registry,
        )
        self.request_seconds = Histogram(
            "gateway_request_seconds", "Whole-request latency inside the gateway.",
            ["route", "model"], buckets=REQUEST_BUCKETS, registry=registry,
        )
        self.requests_total = Counter(
            "gateway_requests", "Answered requests by route, model and HTTP status.",
            ["route", "model", "status"], registry=registry,
        )
        self.in_flight = Gauge(
            "gateway_in_flight", "Requests being handled now (summed over live workers).",
            registry=registry, multiprocess_mode="livesum",
        )
        self.backend_errors_total = Counter(
            "gateway_backend_errors", "Failed backend calls by gRPC status code name.",
            ["model", "code"], registry=registry,
        )
        self._children: dict[tuple, object] = {}

    def _child(self, metric, *labels):
        key = (id(metric),) + labels
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def observe_request(
        self, route: str, model: str, status: int, seconds: float,
        stages: Mapping[str, float] | None = None,
    ) -> None:
        """Record one answered request and the stages it went through."""
        self._child(self.request_seconds, route, model).observe(seconds)
        self._child(self.requests_total, route, model, str(status)).inc()
        if stages:
            for stage, spent in stages.items():
                if stage in STAGES:
                    self._child(self.stage_seconds, model, stage).observe(spent)

    def observe_stage(self, model: str, stage: str, seconds: float) -> None:
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}; expected one of {STAGES}")
        self._child(self.stage_seconds, model, stage).observe(seconds)

    def backend_error(self, model: str, code: str) -> None:
        self._child(self.backend_errors_total, model, code).inc()


_metrics: GatewayMetrics | None = None
_metrics_pid: int | None = None


def get_metrics() -> GatewayMetrics:
    """This process's GatewayMetrics, made on first use (so inside the worker, never at import)."""
    global _metrics, _metrics_pid
    if _metrics is None or _metrics_pid != os.getpid():
        _metrics = GatewayMetrics()
        _metrics_pid = os.getpid()
    return _metrics


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def prune_dead_gauges(path: str | None = None) -> list[int]:
    """Drop "live" gauge files of workers that are gone, so in-flight never counts ghosts.

    Counters and histograms of dead workers are kept: their requests did happen.
    """
    from prometheus_client import multiprocess

    path = path or os.environ.get(DIR_ENV)
    if not path:
        return []
    dead = set()
    for name in glob.glob(os.path.join(path, "gauge_live*_*.db")):
        pid_text = os.path.basename(name).rsplit("_", 1)[-1][: -len(".db")]
        if pid_text.isdigit() and not _pid_alive(int(pid_text)):
            dead.add(int(pid_text))
    for pid in dead:
        multiprocess.mark_process_dead(pid, path)
    return sorted(dead)


def render() -> tuple[bytes, str]:
    """The merged exposition of every worker of this run, and its content type."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    path = os.environ.get(DIR_ENV)
    if not path or not os.path.isdir(path):
        # Not in multiprocess mode (no directory was prepared): this process's own values.
        return generate_latest(get_metrics().registry), CONTENT_TYPE_LATEST
    prune_dead_gauges(path)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=path)
    return generate_latest(registry), CONTENT_TYPE_LATEST


def worker_exiting() -> None:
    """Forget this worker's in-flight gauge (call when a worker stops cleanly)."""
    from prometheus_client import multiprocess

    if os.environ.get(DIR_ENV):
        multiprocess.mark_process_dead(os.getpid())
