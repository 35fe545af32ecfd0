"""The app factory: every route, request hook, middleware, listener and error handler, listed here.

Each worker process runs ``build_app``. Per-worker state (the model registry with its gRPC
channels, readiness, the decode pool) is made in ``start_worker``, inside the worker, after it
started. What the main process does before workers exist (the embedded backend, the metrics
directory) is in ``sanic_app.main``; its results arrive here in ``Settings``.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sanic import Sanic
from sanic.exceptions import PayloadTooLarge as SanicPayloadTooLarge

from sanic_app.config import Settings
from sanic_app.core.limits import Limits, apply_pillow_limit
from sanic_app.core.registry import ModelRegistry
from sanic_app.core.spec import ModelConfig, load_specs
from sanic_app.http import auth, cors, docs, errors, health, tfserving, v2
from sanic_app.http import metrics as http_metrics
from sanic_app.ops import logging as applog
from sanic_app.ops import edge, lifecycle, modes, readiness
from sanic_app.ops.admission import Admission
from sanic_app.ops.hooks import RequestHooks
from sanic_app.ops.allocator import tune_allocator
from sanic_app.ops.memory import release_when_idle

APP_NAME = "tfsgw"


def create_app(settings: Settings, specs: dict[str, ModelConfig], *, name: str = APP_NAME) -> Sanic:
    app = Sanic(name, error_handler=errors.JsonErrorHandler(), log_config=modes.log_config(settings))
    limits = app.ctx.limits = Limits.from_settings(settings)
    app.config.REQUEST_MAX_SIZE = limits.max_body_bytes
    app.config.GRACEFUL_SHUTDOWN_TIMEOUT = settings.graceful_shutdown_s
    app.config.FALLBACK_ERROR_FORMAT = "json"
    edge.configure(app, settings)
    app.ctx.settings = settings
    app.ctx.specs = specs
    apply_pillow_limit(limits)
    _routes(app)
    if settings.cors_origins:  # after every route: each gets its preflight
        app.ctx.cors = cors.Cors(settings.cors_origins, settings.cors_max_age_s)
        cors.add_preflights(app, app.ctx.cors)
        app.on_response(app.ctx.cors.decorate, priority=1000)
    _request_hooks(app, settings, limits)
    _listeners(app, settings)
    app.exception(SanicPayloadTooLarge)(errors.body_too_large)
    return app


def build_app(settings: Settings) -> Sanic:
    """The app factory each worker runs (specs are re-read; they were validated at start-up)."""
    return create_app(settings, load_specs(settings.spec_paths))


def _routes(app: Sanic) -> None:
    app.blueprint(tfserving.bp)  # /v1/models/...
    app.blueprint(v2.bp)  # /v2/... (Open Inference Protocol)
    app.add_route(health.healthz, "/healthz", name="healthz")
    app.add_route(health.readyz, "/readyz", name="readyz")
    app.add_route(http_metrics.scrape, "/metrics", name="metrics")
    app.add_route(docs.openapi_json, "/openapi.json", name="openapi")
    app.add_route(docs.docs, "/docs", name="docs")
    app.add_route(docs.docs_root, "/", name="docs_root")


def _request_hooks(app: Sanic, settings: Settings, limits: Limits) -> None:
    """What runs around each request. The always-on steps are plain hooks the HTTP cycle calls
    (sanic_app/ops/hooks.py, run in the order added); only optional ones use Sanic middleware."""
    hooks = app.ctx.request_hooks = RequestHooks()
    hooks.on_head(applog.stamp_request)  # first: the clock and the request id
    caller_check = app.ctx.auth = auth.Auth.from_settings(settings)  # None: no credentials set
    if caller_check is not None:  # before admission: a caller without a key takes no slot
        hooks.on_head(caller_check.check)
    admission = Admission(limits.max_in_flight, on_change=http_metrics.in_flight_changed)
    app.ctx.in_flight = admission.limiter
    hooks.on_head(admission.admit)  # before the body is read
    hooks.on_answer(admission.release)
    hooks.on_answer(applog.echo_request_id)
    hooks.on_answer(http_metrics.record)
    app.signal("http.lifecycle.complete")(admission.connection_closed)
    if settings.env == "development":
        app.on_request(applog.echo_request, priority=999)
    if settings.profile:
        from sanic_app.ops.profiling import PredictionProfiler

        profiler = app.ctx.prediction_profiler = PredictionProfiler(modes.profile_options(settings))
        app.on_request(profiler.on_request, priority=900)
        app.on_response(profiler.on_response, priority=1100)
        app.before_server_start(profiler.announce)
        app.after_server_stop(profiler.flush)


def _listeners(app: Sanic, settings: Settings) -> None:
    app.before_server_start(lifecycle.watch_for_lost_stop)  # first: a stop may come at once
    app.before_server_start(_follow_parent)
    app.before_server_start(edge.open_book)
    app.before_server_stop(lifecycle.mark_stopping)
    app.before_server_start(http_metrics.bind_worker)
    app.before_server_start(start_worker)
    app.after_server_stop(stop_worker)
    app.after_server_stop(edge.close_book)
    app.after_server_stop(applog.flush_lines)
    app.after_server_stop(http_metrics.unbind_worker)


async def _follow_parent(app: Sanic) -> None:
    lifecycle.worker_follows_parent()  # a killed main process leaves no worker behind


async def start_worker(app: Sanic) -> None:
    settings = app.ctx.settings
    # MB-sized request buffers stay on warm heap pages (no page faults per request); the
    # flip side, free heap held after a burst, is handed back once the worker goes idle.
    app.ctx.allocator = tune_allocator()
    if app.ctx.allocator.applied:
        app.add_task(release_when_idle(app.ctx.in_flight), name="release_when_idle")
    executor = ThreadPoolExecutor(settings.decode_threads, thread_name_prefix="decode") \
        if settings.decode_threads else None
    app.ctx.executor = executor
    app.ctx.registry = ModelRegistry(settings, app.ctx.specs, limits=app.ctx.limits, executor=executor)
    app.ctx.readiness = readiness.for_registry(app)


async def stop_worker(app: Sanic) -> None:
    registry = getattr(app.ctx, "registry", None)
    if registry is not None:
        await registry.close()
    if getattr(app.ctx, "executor", None) is not None:
        app.ctx.executor.shutdown(wait=False)
