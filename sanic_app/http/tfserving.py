"""TF Serving's REST API: /v1/models/{name}[/versions/{v}|/labels/{l}][:predict|/metadata].

One route per method, parsed as TF Serving parses its URLs (http/tfserving_urls), because
TF Serving's ``name:predict`` form puts a colon inside a path segment; a catch-all brings the
other spellings of /v1/ here. Handlers are glue: body -> call (http/bodies), the core's
pipeline, outputs -> body (http/tfserving_json); classify and regress in
http/tfserving_examples.
"""
from __future__ import annotations

import time

from sanic import Blueprint, response

from sanic_app.core.model_status import fetch_status
from sanic_app.core.passthrough import fetch_metadata
from sanic_app.core.stages import StageTimings
from sanic_app.errors import NotFound
from sanic_app.http import tfserving_examples, tfserving_json, tfserving_urls
from sanic_app.http.bodies import call_from_request

bp = Blueprint("tfserving")
JSON = "application/json"


@bp.get("/v1/models/<rest:path>")
async def get_model(request, rest: str = ""):
    url = tfserving_urls.parse("GET", request.path)
    registry = request.app.ctx.registry
    upstream = registry.upstream_for(url.name)
    timeout = registry.deadline_for(url.name)
    if url.metadata:
        body = tfserving_json.metadata_body(
            *await fetch_metadata(upstream, url.name, url.version, url.label, timeout))
    else:
        body = tfserving_json.status_body(
            await fetch_status(upstream, url.name, url.version, url.label, timeout))
    return response.raw(body, content_type=JSON)


@bp.post("/v1/models/<rest:path>")
async def post_model(request, rest: str = ""):
    url = tfserving_urls.parse("POST", request.path)
    if url.verb != "predict":
        return await tfserving_examples.classify_or_regress(request, url)
    timings = StageTimings()
    request.ctx.timings = timings
    call = call_from_request(request, url.name, url.version, url.label, request.app.ctx.limits)
    pipeline = await request.app.ctx.registry.pipeline(url.name, url.version, url.label,
                                                       call.signature_name)
    request.ctx.model = url.name
    outputs = await pipeline.predict(tfserving_json.read_by_signature(call, pipeline.config), timings)
    start = time.perf_counter()
    body = tfserving_json.predict_body(outputs, call.row)
    timings.serialize += time.perf_counter() - start
    return response.raw(body, content_type=JSON)


# TF Serving matches its URLs case-insensitively and answers every other /v1/ path with 400;
# Sanic routes by exact path, so one catch-all sends the rest of /v1/ (any case) here.
@bp.route("/<anything:path>", methods=["GET", "POST"])
async def other_path(request, anything: str):
    if not tfserving_urls.belongs_to_api(request.path):
        raise NotFound(f"Not Found: {request.path}")
    if request.method == "POST":
        return await post_model(request)
    return await get_model(request)
