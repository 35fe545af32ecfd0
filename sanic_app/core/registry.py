"""Per-worker model registry: model name -> the pipeline that serves it.

Spec models get a pipeline each at worker start; other names go through pass-through
(backend metadata) when a default target exists. Built in ``before_server_start``, so every
gRPC channel belongs to the worker process that uses it.
"""
from __future__ import annotations

from concurrent.futures import Executor

from sanic_app.config import Settings
from sanic_app.errors import NotFound
from sanic_app.core.limits import Limits
from sanic_app.core.passthrough import MetadataCache, no_backend
from sanic_app.core.pipeline import ModelPipeline
from sanic_app.core.spec import ModelConfig
from sanic_app.core.upstream import Upstream, UpstreamPool


def default_addresses(settings: Settings, specs: dict[str, ModelConfig]) -> tuple[str, ...] | None:
    """Where specs without a target and pass-through models go: --target, else the embedded
    backend, else the one backend every spec names (so pass-through reaches the same TF Serving)."""
    target = settings.target or settings.embedded_target
    if target:
        return (target,)
    named = {s.target.addresses for s in specs.values() if s.target is not None}
    return named.pop() if len(named) == 1 else None


def default_tls(settings: Settings, specs: dict[str, ModelConfig]):
    """The TLS of the default target: --target's flags, or that of the one backend every spec names."""
    if settings.target:
        return settings.target_tls_spec
    if settings.embedded_target:
        return None
    named = {(s.target.addresses, s.target.tls) for s in specs.values() if s.target is not None}
    return named.pop()[1] if len(named) == 1 else None


class ModelRegistry:
    def __init__(self, settings: Settings, specs: dict[str, ModelConfig], *, limits: Limits,
                 executor: Executor | None = None):
        self.settings = settings
        self.limits = limits
        self.specs = specs
        self.default_addresses = default_addresses(settings, specs)
        self.default_tls = default_tls(settings, specs)
        self.executor = executor
        self.upstreams = UpstreamPool(settings.max_message_bytes)
        self.metadata = MetadataCache(settings.metadata_ttl_s)
        self.pipelines = {name: self._pipeline(cfg) for name, cfg in specs.items()}
        self._passthrough: dict[tuple, ModelPipeline] = {}

    def upstream_for(self, name: str) -> Upstream:
        spec = self.specs.get(name)
        if spec is not None and spec.target is not None:
            return self.upstreams.get(spec.target.addresses, spec.target.tls)
        if spec is None and not self.settings.passthrough:
            raise NotFound(f"Servable not found for request: model {name!r} is not configured "
                           f"(configured: {', '.join(self.specs) or 'none'})")
        if self.default_addresses is None:
            raise no_backend(name)
        return self.upstreams.get(self.default_addresses, self.default_tls)

    def deadline_for(self, name: str) -> float:
        spec = self.specs.get(name)
        if spec is not None and spec.target is not None and spec.target.deadline_ms:
            return spec.target.deadline_ms / 1000.0
        return self.settings.deadline_s

    def _pipeline(self, config: ModelConfig) -> ModelPipeline:
        return ModelPipeline(
            config, self.upstream_for(config.name), deadline_s=self.deadline_for(config.name),
            limits=self.limits, executor=self.executor)

    async def pipeline(self, name: str, version=None, label=None, signature=None) -> ModelPipeline:
        found = self.pipelines.get(name)
        if found is not None:
            return found
        upstream = self.upstream_for(name)
        config = await self.metadata.get(upstream, name, version, label, signature,
                                         self.settings.deadline_s)
        key = (name, version, label, signature)
        found = self._passthrough.get(key)
        if found is None or found.config is not config:  # new, or the metadata was refreshed
            if len(self._passthrough) > 1024:
                self._passthrough.clear()
            found = self._passthrough[key] = self._pipeline(config)
        return found

    async def close(self) -> None:
        await self.upstreams.close()
