"""create_app(settings, specs): routes, listeners and the one error handler.

Listeners: the main process starts the embedded backend when some model needs a backend
and none was given (and passes its address to the workers through the environment; with
--single-process the serving process does it itself); each
worker builds its model registry (gRPC channels included) in ``before_server_start``.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

from sanic import Sanic
from sanic.exceptions import SanicException
from sanic.handlers import ErrorHandler
from sanic.response import raw

from sanic_app.ops.allocator import tune_allocator
from sanic_app.config import EMBEDDED_TARGET_ENV, Settings
from sanic_app.ops import modes, operations
from sanic_app.errors import UpstreamError, error_body, from_exception
from sanic_app.http.tfserving import bp as tfserving_bp
from sanic_app.ops.memory import release_when_idle
from sanic_app.core.registry import ModelRegistry
from sanic_app.core.spec import ModelConfig, load_specs

APP_NAME = "tfsgw"


class JsonErrorHandler(ErrorHandler):
    """Every error, ours or Sanic's (404 route, 413 body, 405), as TF Serving's {"error": ...}."""

    def default(self, request, exception):
        if isinstance(exception, SanicException):
            status = getattr(exception, "status_code", 500) or 500
            message = str(exception) or type(exception).__name__
        else:
            err = from_exception(exception)
            status, message = err.status, err.message
            if status >= 500 and err.code == "INTERNAL":
                self.log(request, exception)
            if isinstance(err, UpstreamError):
                operations.count_backend_error(request, err.code)
        # Overload and an unavailable backend are transient: tell clients when to come back.
        headers = {"Retry-After": "1"} if status in (429, 503) else None
        return raw(error_body(message), status=status, content_type="application/json", headers=headers)


def needs_embedded_backend(settings: Settings, specs: dict[str, ModelConfig]) -> bool:
    """Only when some spec has no target and no --target is given."""
    return not settings.target and any(s.target is None for s in specs.values())


def default_addresses(settings: Settings, specs: dict[str, ModelConfig]) -> tuple[str, ...] | None:
    """Where specs without a target and pass-through models go: --target, else the embedded
    backend, else the one backend every spec names (so pass-through reaches the same TF Serving)."""
    target = settings.target or os.environ.get(EMBEDDED_TARGET_ENV)
    if target:
        return (target,)
    named = {s.target.addresses for s in specs.values() if s.target is not None}
    return named.pop() if len(named) == 1 else None


def create_app(settings: Settings, specs: dict[str, ModelConfig], *, name: str = APP_NAME) -> Sanic:
    app = Sanic(name, error_handler=JsonErrorHandler(), log_config=modes.log_config(settings))
    app.config.REQUEST_MAX_SIZE = settings.max_body_bytes
    app.config.FALLBACK_ERROR_FORMAT = "json"
    app.ctx.settings = settings
    app.ctx.specs = specs
    app.blueprint(tfserving_bp)
    operations.install(app, settings)  # metrics, /healthz, /readyz, limits, graceful shutdown
    modes.install(app, settings)  # request ids + log lines, /openapi.json + docs, profiling

    # The embedded backend belongs to the main process; with --single-process there is no
    # main-process event (Sanic skips it), so the one serving process owns it instead.
    start_hook = app.before_server_start if settings.single_process else app.main_process_start
    stop_hook = app.after_server_stop if settings.single_process else app.main_process_stop

    @start_hook
    async def start_embedded_backend(app):
        if needs_embedded_backend(settings, specs) and not os.environ.get(EMBEDDED_TARGET_ENV):
            from sanic_app.localserve.process import LocalServe

            backend = LocalServe()
            backend.start()
            app.ctx.embedded_backend = backend
            os.environ[EMBEDDED_TARGET_ENV] = backend.target

    @stop_hook
    async def stop_embedded_backend(app):
        backend = getattr(app.ctx, "embedded_backend", None)
        if backend is not None:
            backend.stop()
            os.environ.pop(EMBEDDED_TARGET_ENV, None)

    @app.before_server_start
    async def start_worker(app):
        # MB-sized request buffers stay on warm heap pages (no page faults per request); the
        # flip side, free heap held after a burst, is handed back once the worker goes idle.
        app.ctx.allocator = tune_allocator()
        if app.ctx.allocator.applied:
            app.add_task(release_when_idle(app.ctx.in_flight), name="release_when_idle")
        executor = ThreadPoolExecutor(settings.decode_threads, thread_name_prefix="decode") \
            if settings.decode_threads else None
        app.ctx.executor = executor
        app.ctx.registry = ModelRegistry(settings, specs, default_addresses(settings, specs), executor)

    @app.after_server_stop
    async def stop_worker(app):
        registry = getattr(app.ctx, "registry", None)
        if registry is not None:
            await registry.close()
        if getattr(app.ctx, "executor", None) is not None:
            app.ctx.executor.shutdown(wait=False)

    return app


def build_app(settings: Settings) -> Sanic:
    """The app factory each worker runs (specs are re-read; they were validated at start-up)."""
    return create_app(settings, load_specs(settings.spec_paths))
