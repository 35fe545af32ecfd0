"""/metrics, and the answer hook that records every answered request.

An answer hook (sanic_app/ops/hooks.py) records each answer from the start time the
request-id hook stamped (``request.ctx.received_at``): the route
(Sanic's route name, so label values are bounded by our routes), the model (``request.ctx.model``,
which handlers set only once the model was found, else ""), the status and the stage timings
the pipeline left on ``request.ctx.timings`` (a StageTimings; stages not reached stay 0 and
are not observed).
"""
from __future__ import annotations

import time

from sanic.response import raw

from sanic_app.core.stages import STAGES
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


async def scrape(request):
    """Prometheus metrics, summed over every worker of this gateway."""
    body, content_type = metrics.render()
    return raw(body, content_type=content_type)


def record(request, response) -> None:
    """Answer hook. Requests never stamped (refused while still sending their head) are left
    to gateway_connections_closed_total."""
    started = getattr(request.ctx, "received_at", None)
    if started is None:
        return
    (_bound if _bound is not None else metrics.get_metrics()).observe_request(
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
    return {stage: spent for stage in STAGES if (spent := getattr(timings, stage)) > 0.0}


def count_backend_error(request, code: str) -> None:
    """gateway_backend_errors_total for a failed backend call that reached the client."""
    metrics.get_metrics().backend_error(model_label(request), code)


_in_flight = None  # this worker's gateway_in_flight cell, bound once it starts serving
_bound = None  # this worker's GatewayMetrics, bound with it (record skips get_metrics()'s pid check)


def in_flight_changed(delta: int) -> None:
    """Admission's callback (twice per request): skip get_metrics()'s pid check once bound."""
    gauge = _in_flight if _in_flight is not None else metrics.get_metrics().in_flight
    gauge.inc(delta)


async def bind_worker(app):
    """Open this worker's metric files in the run's directory, before the first request."""
    global _in_flight, _bound
    metrics.use_directory(app.ctx.settings.metrics_dir)
    _bound = metrics.get_metrics()
    _in_flight = _bound.in_flight


async def unbind_worker(app):
    global _in_flight, _bound
    _in_flight = _bound = None
    metrics.worker_exiting()
