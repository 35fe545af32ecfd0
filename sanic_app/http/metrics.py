"""/metrics, and the middleware that records every answered request.

The request middleware stamps the start time; the response middleware records the route
(Sanic's route name, so label values are bounded by our routes), the model (``request.ctx.model``,
which handlers set only once the model was found, else ""), the status and the stage timings
the pipeline left on ``request.ctx.timings`` (a StageTimings; stages not reached stay 0 and
are not observed).
"""
from __future__ import annotations

import time
from typing import Callable

from sanic.response import raw

from sanic_app import metrics

UNMATCHED_ROUTE = "unmatched"


def route_label(request) -> str:
    route = getattr(request, "route", None)
    if route is None:
        return UNMATCHED_ROUTE
    name = route.name or route.path
    # Sanic prefixes route names with the app name ("gateway.predict"); the suffix is enough.
    return name.rsplit(".", 1)[-1]


def model_label(request, known_models: Callable[[], object] | None = None) -> str:
    model = getattr(request.ctx, "model", None)
    if not model or not isinstance(model, str):
        return metrics.NO_MODEL
    if known_models is not None and model not in known_models():
        return metrics.NO_MODEL
    return model


def install(app, known_models: Callable[[], object] | None = None) -> None:
    """Add GET /metrics and the recording middleware to ``app``.

    ``known_models()`` returns the model names this worker serves (a set or dict); requests
    naming anything else are labelled model="" so clients cannot mint series.
    """

    @app.get("/metrics", name="metrics")
    async def metrics_route(request):
        body, content_type = metrics.render()
        return raw(body, content_type=content_type)

    @app.on_request(priority=1000)
    async def _start_timer(request):
        request.ctx.started = time.perf_counter()

    @app.on_response(priority=-1000)
    async def _record(request, response):
        started = getattr(request.ctx, "started", None)
        if started is None:
            return
        request.ctx.started = None  # record once even if middleware runs twice on errors
        metrics.get_metrics().observe_request(
            route_label(request),
            model_label(request, known_models),
            response.status,
            time.perf_counter() - started,
            stage_seconds(request),
        )


def stage_seconds(request) -> dict[str, float] | None:
    timings = getattr(request.ctx, "timings", None)
    if timings is None:
        return None
    return {stage: spent for stage, spent in timings.as_dict().items() if spent > 0.0}
