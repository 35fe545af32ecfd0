"""Readiness: would traffic succeed now? Every model's backend reports the served version
AVAILABLE through GetModelStatus (core/model_status).

The result is cached per worker for ``ttl_s`` and concurrent probes share one check, so
frequent probes cost the backend at most one status call per model per ttl.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Callable, Protocol, Sequence

from sanic_app.core.model_status import available_versions, fetch_status


class StatusCaller(Protocol):
    """What readiness needs from an upstream: one raw unary call (see sanic_app.core.upstream)."""

    async def call(self, path: str, request: bytes, timeout: float) -> bytes: ...


@dataclass(frozen=True)
class ModelProbe:
    """One model to check: its name, the version the gateway asks for, and its backend."""

    name: str
    version: int | None
    upstream: StatusCaller


async def probe_model(probe: ModelProbe, timeout_s: float) -> str | None:
    """None when the model is ready, else a reason a person can act on."""
    try:
        ready, other = available_versions(
            await fetch_status(probe.upstream, probe.name, probe.version, None, timeout_s))
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


def for_registry(app) -> Readiness:
    """A worker's Readiness over its registry's spec models (made once the registry exists)."""
    settings = app.ctx.settings

    def probes():
        registry = app.ctx.registry
        return [ModelProbe(name, spec.version, registry.upstream_for(name))
                for name, spec in registry.specs.items()]

    return Readiness(probes, ttl_s=settings.ready_ttl_s, timeout_s=min(1.0, settings.deadline_s))
