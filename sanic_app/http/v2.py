"""The Open Inference Protocol (KServe v2 / Triton HTTP): /v2/...

Glue only: the wire format is http/v2_format, the step to and from the core http/v2_infer,
metadata http/v2_metadata. Errors are the same GatewayErrors as the v1 API, rendered by the
same handler as ``{"error": "..."}`` with the same status table (errors.py).
"""
from __future__ import annotations

import time

import orjson
from sanic import Blueprint, response

from sanic_app.core.model_status import available_versions, fetch_status
from sanic_app.core.passthrough import fetch_metadata
from sanic_app.core.stages import StageTimings
from sanic_app.errors import InvalidArgument
from sanic_app.http import v2_format, v2_infer
from sanic_app.http.v2_metadata import model_metadata

bp = Blueprint("v2")
JSON = "application/json"
BINARY = "application/octet-stream"
SERVER_NAME = "tfserving-gateway"
SERVER_VERSION = "0.1.0"
EXTENSIONS = ["binary_tensor_data", "classification"]
MODEL = "/v2/models/<model:str>"
VERSION = "/v2/models/<model:str>/versions/<version:str>"


def _json(payload: dict, status: int = 200, headers: dict | None = None):
    return response.raw(orjson.dumps(payload), status=status, content_type=JSON, headers=headers)


def _not_ready(message: str):
    return _json({"error": message}, 503, {"Retry-After": "1"})


def parse_version(text: str | None) -> int | None:
    """The protocol's version string -> TF Serving's int64 version (400 when not a number)."""
    if text is None:
        return None
    if not text.isdigit() or int(text) >= 2**63:
        raise InvalidArgument(f"invalid model version {text[:40]!r}: TF Serving versions are integers")
    return int(text)


async def server_metadata(request):
    """Open Inference Protocol: server metadata (name, version, extensions)."""
    return _json({"name": SERVER_NAME, "version": SERVER_VERSION, "extensions": EXTENSIONS})


async def server_live(request):
    """Open Inference Protocol: the worker is alive ({"live": true})."""
    return _json({"live": True})


async def server_ready(request):
    """Open Inference Protocol: every configured model's backend is ready ({"ready": true}), else 503."""
    ok, reasons = await request.app.ctx.readiness.check()
    if ok:
        return _json({"ready": True})
    return _not_ready("; ".join(reasons) or "not ready")


def _pinned(registry, model: str, version: int | None):
    """(version, label) to ask the backend for: the URL's version, else the spec's pin."""
    spec = registry.specs.get(model)
    if version is not None or spec is None:
        return version, None
    return spec.version, spec.version_label


async def model_ready(request, model: str, version: str | None = None):
    """Open Inference Protocol: the model (version) is loaded and AVAILABLE in the backend, else 503."""
    registry = request.app.ctx.registry
    number, label = _pinned(registry, model, parse_version(version))
    status = await fetch_status(registry.upstream_for(model), model, number, label, registry.deadline_for(model))
    ready, other = available_versions(status)
    if ready and (number is None or number in ready):
        return _json({"name": model, "ready": True})
    return _not_ready(f"model {model!r} is not ready ({', '.join(other) or 'no version AVAILABLE'})")


async def model_metadata_route(request, model: str, version: str | None = None):
    """Open Inference Protocol: model metadata (inputs and outputs with datatype and shape, -1 = any).

    Query parameter ``signature_name`` picks a TF signature other than the model's default.
    """
    registry = request.app.ctx.registry
    spec = registry.specs.get(model)
    number, label = _pinned(registry, model, parse_version(version))
    signature = request.args.get("signature_name") or (spec.signature_name if spec else "") or "serving_default"
    model_spec, signatures = await fetch_metadata(registry.upstream_for(model), model, number, label,
                                                  registry.deadline_for(model))
    return _json(model_metadata(model, model_spec, signatures, signature, spec))


async def infer(request, model: str, version: str | None = None):
    """Open Inference Protocol: inference, JSON or binary tensor extension (Inference-Header-Content-Length).

    Request bodies may be gzip or deflate encoded (Content-Encoding); the answer is compressed
    when Accept-Encoding asks. Output parameter ``classification: k`` answers the top k as
    "score:index[:label]" strings.
    """
    timings = StageTimings()
    request.ctx.timings = timings
    limits = request.app.ctx.limits
    body = v2_format.decompress(request.body, request.headers.get("content-encoding"), limits.max_body_bytes)
    parsed = v2_format.parse_infer(body, request.headers.get(v2_format.HEADER_LENGTH), limits)
    number = parse_version(version)
    pipeline = await request.app.ctx.registry.pipeline(model, number, None, parsed.signature_name)
    request.ctx.model = model
    call = v2_infer.predict_call(parsed, pipeline.config, model, number)
    outputs = await pipeline.predict(call, timings)

    start = time.perf_counter()
    tensors = v2_infer.output_tensors(parsed, pipeline.config, outputs)
    answer, header_length = v2_format.render_infer(model, version, parsed.id, tensors)
    headers = {}
    content_type = JSON
    if header_length is not None:
        headers[v2_format.HEADER_LENGTH] = str(header_length)
        content_type = BINARY
    encoding = v2_format.response_encoding(request.headers.get("accept-encoding"))
    if encoding is not None:
        answer = v2_format.compress(answer, encoding)
        headers["Content-Encoding"] = encoding
    timings.serialize += time.perf_counter() - start
    return response.raw(answer, content_type=content_type, headers=headers)


bp.add_route(server_metadata, "/v2", methods=["GET"], name="v2_server_metadata")
bp.add_route(server_live, "/v2/health/live", methods=["GET"], name="v2_health_live")
bp.add_route(server_ready, "/v2/health/ready", methods=["GET"], name="v2_health_ready")
bp.add_route(model_metadata_route, MODEL, methods=["GET"], name="v2_model_metadata")
bp.add_route(model_metadata_route, VERSION, methods=["GET"], name="v2_model_version_metadata")
bp.add_route(model_ready, MODEL + "/ready", methods=["GET"], name="v2_model_ready")
bp.add_route(model_ready, VERSION + "/ready", methods=["GET"], name="v2_model_version_ready")
bp.add_route(infer, MODEL + "/infer", methods=["POST"], name="v2_infer")
bp.add_route(infer, VERSION + "/infer", methods=["POST"], name="v2_version_infer")
