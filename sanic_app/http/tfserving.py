"""TF Serving's REST API: /v1/models/{name}[/versions/{v}|/labels/{l}][:predict|/metadata].

One catch-all route per method, parsed with one regular expression, because TF Serving's
``name:predict`` form puts a colon inside a path segment. Handlers are glue: body -> call
(http/bodies), the core's pipeline, outputs -> body (http/tfserving_json).
"""
from __future__ import annotations

import re
import time

from sanic import Blueprint, response

from sanic_app.core.model_status import fetch_status
from sanic_app.core.passthrough import fetch_metadata
from sanic_app.core.stages import StageTimings
from sanic_app.errors import InvalidArgument, NotFound
from sanic_app.http import tfserving_json
from sanic_app.http.bodies import call_from_request

bp = Blueprint("tfserving")

_PATH = re.compile(
    r"^(?P<name>[^/:]+)"
    r"(?:/versions/(?P<version>-?\d+)|/labels/(?P<label>[^/:]+))?"
    r"(?::(?P<verb>[A-Za-z]+)|/(?P<metadata>metadata))?/?$"
)
JSON = "application/json"


def parse_path(rest: str):
    """(name, version, label, verb, is_metadata) or NotFound, like TF Serving's URL errors."""
    match = _PATH.match(rest)
    if match is None:
        raise NotFound(f"Malformed request: /v1/models/{rest}")
    version = match["version"]
    if version is not None:
        version = int(version)
        if version < 0 or version >= 2**63:
            raise InvalidArgument(f"invalid model version {match['version']!r}")
    return match["name"], version, match["label"], match["verb"], match["metadata"] is not None


@bp.get("/v1/models/<rest:path>")
async def get_model(request, rest: str):
    name, version, label, verb, is_metadata = parse_path(rest)
    if verb is not None:
        raise NotFound(f"Malformed request: GET /v1/models/{rest} (use POST for :{verb})")
    registry = request.app.ctx.registry
    upstream = registry.upstream_for(name)
    timeout = registry.deadline_for(name)
    if is_metadata:
        body = tfserving_json.metadata_body(*await fetch_metadata(upstream, name, version, label, timeout))
    else:
        body = tfserving_json.status_body(await fetch_status(upstream, name, version, label, timeout))
    return response.raw(body, content_type=JSON)


@bp.post("/v1/models/<rest:path>")
async def post_model(request, rest: str):
    name, version, label, verb, is_metadata = parse_path(rest)
    if verb is None or is_metadata:
        raise NotFound(f"Malformed request: POST /v1/models/{rest} (expected :predict)")
    if verb != "predict":
        raise NotFound(f"unsupported verb :{verb} for model {name!r} (this gateway serves :predict)")
    timings = StageTimings()
    request.ctx.timings = timings
    call = call_from_request(request, name, version, label, request.app.ctx.limits)
    pipeline = await request.app.ctx.registry.pipeline(name, version, label, call.signature_name)
    request.ctx.model = name
    outputs = await pipeline.predict(call, timings)
    start = time.perf_counter()
    body = tfserving_json.predict_body(outputs, call.row)
    timings.serialize += time.perf_counter() - start
    return response.raw(body, content_type=JSON)
