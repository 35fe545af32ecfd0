"""/metrics, and the middleware that records every answered request.

The request middleware stamps the start time; the response middleware records the route
(Sanic's route name, so label values are bounded by our routes), the model (``request.ctx.model``,
which handlers set only once the model was found, else ""), the status and the stage timings
the pipeline left on ``request.ctx.timings`` (a StageTimings; stages not reached stay 0 and
are not observed).
"""
from __future__ import annotations

import time

from sanic.response import raw

from sanic_app.ops import metrics

UNMATCHED_ROUTE = "unmatched"


def route_label(request) -> str:
    route = getattr(request, "route", None)
    if route is None:
        return UNMATCHED_ROUTE
    name = route.name or route.path
    # Sanic prefixes route names with app and blueprint ("tfsgw.tfserving.post_model").
    return name.rsplit(".", 1)[-1]


def model_label(request) -> str:
    """The model a handler found (it sets request.ctx.model), so clients cannot mint series."""
    model = getattr(request.ctx, "model", None)
    return model if isinstance(model, str) and model else metrics.NO_MODEL


def install(app) -> None:
    """Add GET /metrics and the recording middleware to ``app``."""

    @app.get("/metrics", name="metrics")
    async def metrics_route(request):
        body, content_type = metrics.render()
        return raw(body, content_type=content_type)

    @app.on_request(priority=1000)
    async def _start_timer(request):
        request.ctx.metrics_started = time.perf_counter()

    @app.on_response(priority=-1000)
    async def _record(request, response):
        started = getattr(request.ctx, "metrics_started", None)
        if started is None:
            return
        request.ctx.metrics_started = None  # record once even if middleware runs twice on errors
        metrics.get_metrics().observe_request(
            route_label(request),
            model_label(request),
            response.status,
            time.perf_counter() - started,
            stage_seconds(request),
        )


def stage_seconds(request) -> dict[str, float] | None:
    timings = getattr(request.ctx, "timings", None)
    if timings is None:
        return None
    return {stage: spent for stage, spent in timings.as_dict().items() if spent > 0.0}
