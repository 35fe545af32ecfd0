"""/healthz and /readyz.

/healthz answers whenever the worker's event loop runs: it says the process is alive and
touches nothing else, so an orchestrator restarts only a wedged process. /readyz says whether
traffic would succeed now: every model's backend reports the served version AVAILABLE through
GetModelStatus. Its result is cached per worker for ``ttl_s`` and concurrent probes share one
check, so frequent probes cost the backend at most one status call per model per ttl.
"""
from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from typing import Awaitable, Callable, Protocol, Sequence

import orjson
from sanic.response import raw

from sanic_app.protos import GET_MODEL_STATUS, serving_pb2

JSON = "application/json"
_AVAILABLE = serving_pb2.ModelVersionStatus.AVAILABLE


class StatusCaller(Protocol):
    """What readiness needs from an upstream: one raw unary call (see sanic_app.core.upstream)."""

    async def call(self, path: str, request: bytes, timeout: float) -> bytes: ...


@dataclass(frozen=True)
class ModelProbe:
    """One model to check: its name, the version the gateway asks for, and its backend."""

    name: str
    version: int | None
    upstream: StatusCaller


def status_request(name: str, version: int | None) -> bytes:
    """GetModelStatusRequest bytes (off the hot path, so plain protobuf is fine)."""
    request = serving_pb2.GetModelStatusRequest()
    request.model_spec.name = name
    if version is not None:
        request.model_spec.version.value = version
    return request.SerializeToString()


def available_versions(response: bytes) -> tuple[list[int], list[str]]:
    """(versions AVAILABLE, "version:STATE" of the others) from GetModelStatusResponse bytes."""
    parsed = serving_pb2.GetModelStatusResponse.FromString(response)
    ready, other = [], []
    for status in parsed.model_version_status:
        if status.state == _AVAILABLE:
            ready.append(status.version)
        else:
            state = serving_pb2.ModelVersionStatus.State.Name(status.state)
            other.append(f"{status.version}:{state}")
    return ready, other


async def probe_model(probe: ModelProbe, timeout_s: float) -> str | None:
    """None when the model is ready, else a reason a person can act on."""
    try:
        response = await probe.upstream.call(
            GET_MODEL_STATUS, status_request(probe.name, probe.version), timeout_s
        )
        ready, other = available_versions(response)
    except Exception as exc:  # any failure means "not ready"; the reason says which
        return f"model {probe.name!r}: status check failed: {getattr(exc, 'message', None) or exc}"
    if probe.version is not None and probe.version not in ready:
        return f"model {probe.name!r}: version {probe.version} is not AVAILABLE ({', '.join(other) or 'unknown'})"
    if not ready:
        return f"model {probe.name!r}: no version AVAILABLE ({', '.join(other) or 'none loaded'})"
    return None


class Readiness:
    """Per-worker cached readiness over a set of model probes."""

    def __init__(
        self,
        probes: Callable[[], Sequence[ModelProbe]],
        *,
        ttl_s: float = 1.0,
        timeout_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._probes = probes
        self.ttl_s = ttl_s
        self.timeout_s = timeout_s
        self._clock = clock
        self._cached: tuple[float, bool, list[str]] | None = None
        self._running: asyncio.Future | None = None
        self.checks = 0  # how many real checks ran (tests and debugging)

    async def check(self) -> tuple[bool, list[str]]:
        now = self._clock()
        if self._cached is not None and now - self._cached[0] < self.ttl_s:
            return self._cached[1], self._cached[2]
        if self._running is None or self._running.done():
            self._running = asyncio.ensure_future(self._check_now())
        # Shielded: a probe that gives up does not cancel the check others wait on.
        return await asyncio.shield(self._running)

    async def _check_now(self) -> tuple[bool, list[str]]:
        self.checks += 1
        probes = list(self._probes())
        results = await asyncio.gather(*(probe_model(p, self.timeout_s) for p in probes))
        reasons = [r for r in results if r is not None]
        ok = bool(probes) and not reasons
        if not probes:
            reasons = ["no models configured"]
        self._cached = (self._clock(), ok, reasons)
        return ok, reasons


def _json(status: int, payload: dict, headers: dict | None = None):
    return raw(orjson.dumps(payload), status=status, content_type=JSON, headers=headers)


async def healthz_response():
    return _json(200, {"status": "alive", "pid": os.getpid()})


async def readyz_response(readiness: Readiness):
    ok, reasons = await readiness.check()
    if ok:
        return _json(200, {"status": "ready"})
    return _json(503, {"status": "not ready", "error": "; ".join(reasons), "reasons": reasons},
                 headers={"Retry-After": "1"})


def add_routes(app, readiness_of: Callable[[object], Awaitable[Readiness] | Readiness]) -> None:
    """Register GET /healthz and /readyz; ``readiness_of(app)`` gives the worker's Readiness."""

    @app.get("/healthz", name="healthz")
    async def healthz(request):
        return await healthz_response()

    @app.get("/readyz", name="readyz")
    async def readyz(request):
        readiness = readiness_of(request.app)
        if asyncio.iscoroutine(readiness):
            readiness = await readiness
        return await readyz_response(readiness)
