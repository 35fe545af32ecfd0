"""The OpenAPI 3 document of a running gateway, generated from its routes and loaded specs.

Two sources, so the document cannot drift from the code:
- the app's router: every route becomes an operation (summary and description from the
  handler's docstring, path parameters from Sanic's ``<name:type>`` segments);
- the model specs: the TF Serving family (``/v1/models/<rest:path>``, one catch-all route in
  the code) is expanded into explicit paths per model, with request and response schemas
  built from each input's kind, dtype and shape and each output's post-processing.
When pass-through is on, a generic ``/v1/models/{model_name}...`` family is listed as well.
"""
from __future__ import annotations

import base64
import inspect
import io
import re
from pathlib import Path
from typing import Any

import numpy as np

from sanic_app.core.spec import InputSpec, ModelConfig, OutputSpec

OPENAPI_VERSION = "3.0.3"
TFSERVING_ROUTE = "/v1/models/<rest:path>"
V2_TAG = "Open Inference Protocol (v2)"
TFSERVING_OTHER_PATHS = "/<anything:path>"  # other spellings of /v1/ (http/tfserving.other_path)
ERROR_STATUSES = {
    "400": "The request is malformed or does not fit the model's inputs",
    "404": "Unknown model, version, label or signature",
    "413": "Body, batch or image larger than the configured limits",
    "415": "Unsupported content type",
    "429": "Too many requests in flight in this worker",
    "503": "The backend is unavailable (retry after the Retry-After header)",
    "504": "The backend did not answer within the deadline",
}
# Routes whose answer is not JSON, by the last part of their Sanic route name.
_NON_JSON_ROUTES = {
    "metrics": ("text/plain", "Prometheus text exposition format"),
    "docs": ("text/html", "The browsable API documentation"),
    "docs_root": ("text/html", "The browsable API documentation"),
}
_SANIC_PARAM = re.compile(r"<([A-Za-z_]\w*)(?::([^>]+))?>")
_PARAM_TYPES = {"int": {"type": "integer"}, "float": {"type": "number"}, "number": {"type": "number"}}


# --- schemas for values ---------------------------------------------------------------------
def _scalar_schema(dtype: np.dtype) -> dict:
    if dtype.kind == "b":
        return {"type": "boolean"}
    if dtype.kind in "iu":
        schema: dict[str, Any] = {"type": "integer"}
        info = np.iinfo(dtype)
        if info.bits <= 32:
            schema.update(minimum=int(info.min), maximum=int(info.max))
        elif dtype.kind == "u":
            schema["minimum"] = 0
        return schema
    # floats: JSON numbers, or the NaN / Infinity literals TF Serving also accepts
    return {"type": "number"}


def _nested(item: dict, dims: tuple[int, ...]) -> dict:
    """Nested JSON arrays for the given dimensions (-1: any length), innermost last."""
    schema = item
    for size in reversed(dims):
        schema = {"type": "array", "items": schema}
        if size >= 0:
            schema["minItems"] = schema["maxItems"] = size
    return schema


B64_OBJECT = {
    "type": "object",
    "required": ["b64"],
    "additionalProperties": False,
    "properties": {"b64": {"type": "string", "format": "byte", "description": "base64 (standard or URL-safe)"}},
}


def instance_schema(spec: InputSpec) -> dict:
    """One instance's value of an input (row form), per its kind."""
    if spec.kind == "image":
        image = spec.image
        return {
            **B64_OBJECT,
            "description": (
                f"An encoded image (JPEG, PNG, ...), decoded and resized to {image.width}x{image.height} "
                f"{image.color} ({image.resize}), laid out {image.layout}, sent as {spec.dtype}"
            ),
        }
    if spec.kind == "bytes":
        return {"oneOf": [B64_OBJECT, {"type": "string"}], "description": "bytes (DT_STRING)"}
    item_dims = spec.shape[1:] if spec.shape else ()
    schema = _nested(_scalar_schema(spec.dtype), tuple(item_dims))
    shape = "any shape" if spec.shape is None else f"shape {list(spec.shape)}"
    return {**schema, "description": f"{spec.dtype} tensor, {shape} (first dimension: the batch)"}


def _batch(item: dict) -> dict:
    return {"type": "array", "minItems": 1, "items": item}


def output_schema(spec: OutputSpec | None) -> dict:
    """One instance's value of an output, per its post-processing."""
    if spec is None or spec.postprocess in ("raw", "softmax"):
        what = "probabilities (softmax)" if spec is not None and spec.postprocess == "softmax" else "the raw tensor"
        return {"allOf": [{"$ref": "#/components/schemas/Tensor"}], "description": what}
    if spec.postprocess == "topk":
        properties = {"class": {"type": "integer", "minimum": 0}, "score": {"type": "number"}}
        if spec.labels is not None:
            properties["label"] = {"type": "string"}
        return {
            "type": "array",
            "maxItems": spec.k,
            "description": f"the {spec.k} best classes, best first",
            "items": {"type": "object", "required": ["class", "score"], "properties": properties},
        }
    return {"description": "shaped by a post-processing plug-in"}


# --- per-model paths ------------------------------------------------------------------------
def _components_name(model: str, what: str) -> str:
    return f"{model}.{what}"


def predict_request_schema(config: ModelConfig) -> dict:
    inputs = config.inputs
    row_item = (
        instance_schema(config.single_input)
        if config.single_input is not None
        else {
            "type": "object",
            "required": list(inputs),
            "additionalProperties": False,
            "properties": {name: instance_schema(spec) for name, spec in inputs.items()},
        }
    )
    columnar = (
        _batch(instance_schema(config.single_input))
        if config.single_input is not None
        else {
            "type": "object",
            "required": list(inputs),
            "additionalProperties": False,
            "properties": {name: _batch(instance_schema(spec)) for name, spec in inputs.items()},
        }
    )
    signature = {"type": "string", "default": config.signature_name}
    return {
        "oneOf": [
            {
                "title": "row form",
                "type": "object",
                "required": ["instances"],
                "properties": {"signature_name": signature, "instances": _batch(row_item)},
            },
            {
                "title": "columnar form",
                "type": "object",
                "required": ["inputs"],
                "properties": {"signature_name": signature, "inputs": columnar},
            },
        ]
    }


def predict_response_schema(config: ModelConfig) -> dict:
    outputs = config.outputs
    if len(outputs) == 1:
        (spec,) = outputs.values()
        row, columns = output_schema(spec), output_schema(spec)
    elif outputs:
        row = {"type": "object", "properties": {n: output_schema(s) for n, s in outputs.items()}}
        columns = row
    else:  # no outputs in the spec: whatever the signature returns
        row = columns = {"description": "one output's value, or an object of named outputs"}
    return {
        "oneOf": [
            {"title": "row form", "type": "object", "required": ["predictions"],
             "properties": {"predictions": _batch(row)}},
            {"title": "columnar form", "type": "object", "required": ["outputs"],
             "properties": {"outputs": columns}},
        ]
    }


def example_image_b64() -> str:
    """A small grey PNG: a working 'try it' body for any image model."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (16, 16), 128).save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def example_request(config: ModelConfig) -> dict:
    def one(spec: InputSpec):
        if spec.kind == "image":
            return {"b64": example_image_b64()}
        if spec.kind == "bytes":
            return {"b64": base64.b64encode(b"example").decode()}
        dims = [1 if d < 0 else d for d in (spec.shape[1:] if spec.shape else ())]
        return np.zeros(dims, dtype=spec.dtype).tolist()

    single = config.single_input
    instance = one(single) if single is not None else {n: one(s) for n, s in config.inputs.items()}
    return {"instances": [instance]}


def _error_responses() -> dict:
    ref = {"$ref": "#/components/schemas/Error"}
    return {code: {"description": why, "content": {"application/json": {"schema": ref}}}
            for code, why in ERROR_STATUSES.items()}


def _model_selectors(name: str) -> list[tuple[str, list[dict]]]:
    """The path prefixes TF Serving accepts for one model: latest, a version, a label."""
    version = {"name": "version", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0}}
    label = {"name": "label", "in": "path", "required": True, "schema": {"type": "string"}}
    base = f"/v1/models/{name}"
    return [(base, [], "latest version"), (base + "/versions/{version}", [version], "a given version"),
            (base + "/labels/{label}", [label], "the version with a label")]


def model_paths(config: ModelConfig, *, passthrough_name: str | None = None) -> dict:
    """Predict, status and metadata operations for one model (or the pass-through family)."""
    name = passthrough_name or config.name
    tag = "pass-through models" if passthrough_name else f"model {config.name}"
    model_param = ([{"name": "model_name", "in": "path", "required": True, "schema": {"type": "string"}}]
                   if passthrough_name else [])
    if passthrough_name:
        request_schema = {"$ref": "#/components/schemas/GenericPredictRequest"}
        response_schema = {"$ref": "#/components/schemas/GenericPredictResponse"}
    else:
        request_schema = {"$ref": f"#/components/schemas/{_components_name(config.name, 'PredictRequest')}"}
        response_schema = {"$ref": f"#/components/schemas/{_components_name(config.name, 'PredictResponse')}"}
    body_content: dict[str, Any] = {"application/json": {"schema": request_schema}}
    if not passthrough_name:
        body_content["application/json"]["example"] = example_request(config)
        images = [n for n, s in config.inputs.items() if s.kind == "image"]
        if config.single_input is not None and images:
            body_content["image/*"] = {"schema": {"type": "string", "format": "binary"}}
        if images:
            body_content["multipart/form-data"] = {"schema": {
                "type": "object",
                "description": "one part per input name; repeat a name for a batch",
                "properties": {n: {"type": "string", "format": "binary"} for n in config.inputs},
            }}
    paths: dict[str, Any] = {}
    for prefix, params, which in _model_selectors(name):
        where = f" ({which})"
        ops_id = re.sub(r"[^A-Za-z0-9_]", "_", f"{name}{prefix.removeprefix(f'/v1/models/{name}')}")
        paths[prefix + ":predict"] = {"post": {
            "tags": [tag],
            "operationId": f"predict_{ops_id}",
            "summary": f"Predict with {'a model' if passthrough_name else name}{where}",
            "description": "TF Serving's REST predict, in row form (instances) or columnar form (inputs).",
            "parameters": model_param + params,
            "requestBody": {"required": True, "content": body_content},
            "responses": {"200": {"description": "Predictions",
                                  "content": {"application/json": {"schema": response_schema}}},
                          **_error_responses()},
        }}
        for verb, what in (("classify", "Classify"), ("regress", "Regress")):
            paths[prefix + ":" + verb] = {"post": {
                "tags": [tag],
                "operationId": f"{verb}_{ops_id}",
                "summary": f"{what} tf.Examples{where}",
                "description": f"TF Serving's REST {verb}: examples (and a shared context) as "
                               "tf.Example features, sent over PredictionService/" + what + ".",
                "parameters": model_param + params,
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/ClassifyRegressRequest"}}}},
                "responses": {"200": {"description": "results, one per example",
                                      "content": {"application/json": {"schema": {
                                          "$ref": "#/components/schemas/ClassifyRegressResponse"}}}},
                              **_error_responses()},
            }}
        if prefix.endswith("}") and "/labels/" in prefix:
            continue  # TF Serving answers status and metadata by version, not by label
        for suffix, what in (("", "status"), ("/metadata", "metadata")):
            paths[prefix + suffix] = {"get": {
                "tags": [tag],
                "operationId": f"{what}_{ops_id}",
                "summary": f"Model {what}{where}, from the backend",
                "parameters": model_param + params,
                "responses": {"200": {"description": f"TF Serving's {what} answer",
                                      "content": {"application/json": {"schema": {"type": "object"}}}},
                              **_error_responses()},
            }}
    return paths


# --- routes from the router -----------------------------------------------------------------
def _openapi_path(uri: str) -> tuple[str, list[dict]]:
    params = []

    def swap(match):
        name, kind = match.group(1), match.group(2) or "str"
        schema = _PARAM_TYPES.get(kind.split(":")[0], {"type": "string"})
        params.append({"name": name, "in": "path", "required": True, "schema": dict(schema)})
        return "{" + name + "}"

    path = _SANIC_PARAM.sub(swap, uri)
    return ("/" + path.lstrip("/")), params


def route_paths(routes) -> dict:
    """Operations for every route the app has, except the TF Serving family (per model)."""
    paths: dict[str, Any] = {}
    for route in routes:
        uri = "/" + route.path.lstrip("/")
        if uri in (TFSERVING_ROUTE, TFSERVING_OTHER_PATHS) or route.extra.static or route.extra.websocket:
            continue
        path, params = _openapi_path(uri)
        short_name = (route.name or "").rsplit(".", 1)[-1]
        doc = inspect.getdoc(route.handler) or ""
        summary, _, description = doc.partition("\n")
        content_type, answer = _NON_JSON_ROUTES.get(short_name, ("application/json", "OK"))
        for method in sorted(route.methods):
            if method in ("HEAD", "OPTIONS"):
                continue
            operation: dict[str, Any] = {
                "tags": [V2_TAG if uri.startswith("/v2") else "service"],
                "operationId": re.sub(r"[^A-Za-z0-9_]", "_", f"{short_name}_{method.lower()}"),
                "summary": summary.strip() or short_name.replace("_", " "),
                "responses": {"200": {"description": answer, "content": {content_type: {"schema": {}}}}},
            }
            if description.strip():
                operation["description"] = description.strip()
            if params:
                operation["parameters"] = params
            paths.setdefault(path, {})[method.lower()] = operation
    return paths


# --- the document ---------------------------------------------------------------------------
def _common_components() -> dict:
    scalar = [{"type": "number"}, {"type": "integer"}, {"type": "string"}, {"type": "boolean"}]
    return {
        "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}},
                  "description": "TF Serving's error form"},
        # Not recursive on purpose: validators and client generators handle a self-referencing
        # schema badly (openapi-spec-validator recurses without end).
        "Tensor": {"description": "A JSON tensor: a scalar or nested arrays of scalars",
                   "oneOf": [*scalar, {"type": "array", "items": {}}]},
        "GenericPredictRequest": {
            "type": "object",
            "description": "TF Serving's predict request; inputs' dtypes and shapes come from the backend's metadata",
            "properties": {"signature_name": {"type": "string"}, "instances": {"type": "array", "items": {}},
                           "inputs": {}},
        },
        "ClassifyRegressRequest": {
            "type": "object", "required": ["examples"],
            "description": "features: a value or a flat list of integers/booleans (int64), decimals "
                           "(float) or strings/{\"b64\"} (bytes)",
            "properties": {"signature_name": {"type": "string"},
                           "context": {"type": "object", "additionalProperties": {}},
                           "examples": {"type": "array", "minItems": 1,
                                        "items": {"type": "object", "additionalProperties": {}}}},
        },
        "ClassifyRegressResponse": {
            "type": "object",
            "description": "classify: per example a list of [label, score]; regress: one number per example",
            "properties": {"results": {"type": "array", "items": {}}},
        },
        "GenericPredictResponse": {
            "type": "object",
            "properties": {"predictions": {"type": "array", "items": {}}, "outputs": {}},
        },
    }


def build_document(specs: dict[str, ModelConfig], routes=(), *, passthrough: bool = False,
                   title: str = "TF Serving REST gateway", version: str = "0.1.0") -> dict:
    """The whole OpenAPI document; ``routes`` are the app's Sanic routes (``app.router.routes``)."""
    paths = route_paths(routes)
    schemas = _common_components()
    for name in sorted(specs):
        config = specs[name]
        schemas[_components_name(name, "PredictRequest")] = predict_request_schema(config)
        schemas[_components_name(name, "PredictResponse")] = predict_response_schema(config)
        paths.update(model_paths(config))
    if passthrough:
        paths.update(model_paths(ModelConfig(name="passthrough"), passthrough_name="{model_name}"))
    # the spec's file name, not its path: the document is public, the server's layout is not
    tags = [{"name": f"model {n}", "description": f"from the spec {Path(specs[n].source).name}"}
            for n in sorted(specs)]
    if passthrough:
        tags.append({"name": "pass-through models",
                     "description": "any other model the backend serves, described by its metadata"})
    tags.append({"name": V2_TAG, "description": "KServe v2 / Triton HTTP: JSON or binary tensors "
                 "(Inference-Header-Content-Length), for every model above and pass-through ones"})
    tags.append({"name": "service", "description": "health, metrics and these docs"})
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": title,
            "version": version,
            "description": "A REST front door for TensorFlow Serving, compatible with its REST API. "
                           "Every answer carries an X-Request-ID header (sent by the client or made here).",
        },
        "tags": tags,
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": schemas},
    }
