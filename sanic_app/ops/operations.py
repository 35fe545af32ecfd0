"""Wire the operational parts into the app: metrics, probes, limits, graceful shutdown.

One call from create_app, so app.py stays about serving models. What runs where:
  main process, before workers start: the per-run metrics directory (workers inherit it);
  every worker: its limits, the in-flight limiter, /metrics, /healthz, /readyz;
  worker stop: its in-flight gauge is dropped (channels are closed by the app's own
  after_server_stop, which runs after Sanic has let in-flight requests finish).
"""
from __future__ import annotations

from sanic.exceptions import PayloadTooLarge as SanicPayloadTooLarge
from sanic.response import raw

from sanic_app.core import limits
from sanic_app.ops import metrics
from sanic_app.errors import error_body
from sanic_app.http import health
from sanic_app.http import metrics as http_metrics


def _readiness(app) -> health.Readiness:
    """This worker's Readiness, made on first probe from the model registry."""
    readiness = getattr(app.ctx, "readiness", None)
    if readiness is None:
        settings = app.ctx.settings

        def probes():
            registry = app.ctx.registry
            return [
                health.ModelProbe(name, spec.version, registry.upstream_for(name))
                for name, spec in registry.specs.items()
            ]

        readiness = health.Readiness(
            probes, ttl_s=settings.ready_ttl_s, timeout_s=min(1.0, settings.deadline_s)
        )
        app.ctx.readiness = readiness
    return readiness


_in_flight = None  # this worker's gateway_in_flight cell, bound once it starts serving


def _in_flight_changed(delta: int) -> None:
    # Twice per request: skip get_metrics()'s pid check (a getpid syscall) once bound.
    gauge = _in_flight if _in_flight is not None else metrics.get_metrics().in_flight
    gauge.inc(delta)


def install(app, settings) -> None:
    app.config.GRACEFUL_SHUTDOWN_TIMEOUT = settings.graceful_shutdown_s
    app.config.REQUEST_MAX_SIZE = settings.max_body_bytes
    configured = limits.from_settings(settings)
    limits.configure(configured)
    limits.apply_pillow_limit(configured)

    @app.main_process_start
    async def _prepare_metrics_dir(app):
        metrics.prepare_multiprocess_dir(settings.metrics_dir)

    @app.before_server_start
    async def _worker_metrics(app):
        global _in_flight
        # open this worker's metric files before the first request, and bind its gauge cell
        _in_flight = metrics.get_metrics().in_flight

    @app.after_server_stop
    async def _worker_gone(app):
        global _in_flight
        _in_flight = None
        metrics.worker_exiting()

    @app.exception(SanicPayloadTooLarge)
    async def _body_too_large(request, exception):
        message = f"request body is larger than the limit of {settings.max_body_bytes} bytes"
        return raw(error_body(message), status=413, content_type="application/json")

    http_metrics.install(app)
    app.ctx.in_flight = limits.install_in_flight_limit(
        app, settings.max_in_flight, on_change=_in_flight_changed)
    health.add_routes(app, _readiness)


def count_backend_error(request, code: str) -> None:
    """gateway_backend_errors_total for a failed backend call that reached the client."""
    metrics.get_metrics().backend_error(http_metrics.model_label(request), code)
