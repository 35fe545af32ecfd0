"""TF Serving's REST JSON format, both ways, in one unit (as TF Serving's json_tensor).

Request direction: a predict body -> a protocol-free PredictCall ("instances": row form,
"inputs": columnar form, "signature_name"). Answer direction: the core's named outputs ->
"predictions" (row) or "outputs" (columnar); a lone output bare, several keyed by name;
DT_STRING as text, or {"b64": ...} for names ending in _bytes and for bytes that are not
UTF-8; NaN/Infinity as TF Serving writes them. Model status and metadata, as TF Serving's
REST API renders its gRPC answers, live here too.
"""
from __future__ import annotations

import json
from typing import Any

import numpy as np
import orjson
import pybase64
from google.protobuf import json_format

from sanic_app.core.call import PredictCall
from sanic_app.core.decode import is_b64
from sanic_app.core.limits import Limits, check_inputs
from sanic_app.errors import InvalidArgument
from sanic_app.http.jsonbody import parse_json

# tensorflow.error.Code names, for GetModelStatus' status.error_code (an enum in TF's proto).
ERROR_CODE_NAMES = (
    "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
    "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
    "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
)


# ---- request: JSON body -> PredictCall ----------------------------------------------------

def call_from_json(body: bytes, model: str, version, label, limits: Limits) -> PredictCall:
    if not body:
        raise InvalidArgument("JSON Parse error: the request body is empty")
    doc = parse_json(body, limits.max_json_depth)
    if not isinstance(doc, dict):
        raise InvalidArgument("JSON Parse error: the request body must be a JSON object")
    signature = doc.get("signature_name")
    if signature is not None and not isinstance(signature, str):
        raise InvalidArgument("'signature_name' must be a string")
    has_instances, has_inputs = "instances" in doc, "inputs" in doc
    if has_instances == has_inputs:
        raise InvalidArgument("Missing 'inputs' or 'instances' key" if not has_instances
                              else "Not both 'inputs' and 'instances' may be given")
    call = PredictCall(model=model, values={}, row=has_instances, version=version, label=label,
                       signature_name=signature or None)
    if has_instances:
        instances = doc["instances"]
        if not isinstance(instances, list) or not instances:
            raise InvalidArgument("'instances' must be a non-empty JSON array")
        call.batch_size = len(instances)
        if isinstance(instances[0], dict) and not is_b64(instances[0]):
            call.values = _columns(instances)
        else:
            call.values = {None: instances}
    else:
        inputs = doc["inputs"]
        if isinstance(inputs, dict) and not is_b64(inputs):
            if not inputs:
                raise InvalidArgument("'inputs' must not be an empty object")
            call.values = dict(inputs)
        else:
            call.values = {None: inputs}
    check_inputs(len(call.values), limits)
    return call


def _columns(instances: list) -> dict:
    """Row form with named inputs: one list per input, checking every instance has them all."""
    names = list(instances[0])
    columns = {name: [] for name in names}
    for i, instance in enumerate(instances):
        if not isinstance(instance, dict) or is_b64(instance):
            raise InvalidArgument(f"instance {i}: expected an object of named inputs like instance 0, "
                                  f"got {type(instance).__name__}")
        if len(instance) != len(names):
            extra = set(instance) - set(names)
            missing = set(names) - set(instance)
            what = f"has extra input(s) {sorted(extra)}" if extra else f"is missing input(s) {sorted(missing)}"
            raise InvalidArgument(f"instance {i} {what}; every instance needs the same named inputs")
        for name in names:
            try:
                columns[name].append(instance[name])
            except KeyError:
                raise InvalidArgument(f"instance {i} is missing input {name!r}") from None
    return columns


# ---- answer: named outputs -> JSON bytes --------------------------------------------------

def predict_body(outputs: dict[str, Any], row: bool) -> bytes:
    """The predict answer as TF Serving writes it."""
    rendered = {name: strings_for_json(name, v) if _is_strings(v) else v for name, v in outputs.items()}
    nonfinite = any(_has_nonfinite(v) for v in rendered.values())  # before rows multiply objects
    return serialize(_answer(rendered, row), nonfinite)


def _is_strings(value) -> bool:
    return isinstance(value, np.ndarray) and value.dtype == object


def _answer(outputs: dict[str, Any], row: bool) -> dict:
    """TF Serving's answer shapes: row -> "predictions", columnar -> "outputs"; a lone
    output is given bare, several as objects keyed by output name."""
    if not row:
        if len(outputs) == 1:
            return {"outputs": next(iter(outputs.values()))}
        return {"outputs": outputs}
    if len(outputs) == 1:
        return {"predictions": next(iter(outputs.values()))}
    sizes = {name: len(v) if not isinstance(v, np.ndarray) else (v.shape[0] if v.ndim else -1)
             for name, v in outputs.items()}
    batch = set(sizes.values())
    if len(batch) != 1 or -1 in batch:
        raise InvalidArgument(
            "outputs have differing batch sizes " + ", ".join(f"{n}: {s}" for n, s in sizes.items())
            + "; use the columnar \"inputs\" form for this model")
    (n,) = batch
    names = list(outputs)
    return {"predictions": [{name: outputs[name][i] for name in names} for i in range(n)]}


def strings_for_json(name: str, arr: np.ndarray):
    """DT_STRING outputs: text as JSON strings; names ending in _bytes (TF Serving's rule) or
    bytes that are not UTF-8 as {"b64": ...}."""
    force_b64 = name.endswith("_bytes")

    def one(v):
        if isinstance(v, str):
            return v
        if not force_b64:
            try:
                return v.decode("utf-8")
            except UnicodeDecodeError:
                pass
        return {"b64": pybase64.b64encode(v).decode("ascii")}

    def walk(x):
        return [walk(i) for i in x] if isinstance(x, list) else one(x)

    return walk(arr.tolist())


def _default(obj):
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"cannot serialise {type(obj).__name__}")


def _has_nonfinite(obj) -> bool:
    if isinstance(obj, np.ndarray):
        return obj.dtype.kind in "fc" and not np.isfinite(obj).all()
    if isinstance(obj, np.floating):
        return not np.isfinite(obj)
    if isinstance(obj, float):
        return obj != obj or obj in (float("inf"), float("-inf"))
    if isinstance(obj, dict):
        return any(_has_nonfinite(v) for v in obj.values())
    if isinstance(obj, list):
        return any(_has_nonfinite(v) for v in obj)
    return False


def serialize(body: dict, nonfinite: bool | None = None) -> bytes:
    """orjson (numpy arrays natively); NaN/Infinity are written as TF Serving writes them
    (bare NaN, Infinity, -Infinity literals), which needs the slow encoder only then."""
    if nonfinite if nonfinite is not None else _has_nonfinite(body):
        return json.dumps(body, default=_default, allow_nan=True, separators=(",", ":")).encode()
    return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY, default=_default)


# ---- model status and metadata ------------------------------------------------------------

def _to_json(message) -> dict:
    return json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)


def metadata_body(model_spec, signatures) -> bytes:
    """GetModelMetadataResponse as TF Serving's REST API renders it."""
    body = {"model_spec": _to_json(model_spec), "metadata": {"signature_def": _to_json(signatures)}}
    return orjson.dumps(body, option=orjson.OPT_INDENT_2)


def status_body(response) -> bytes:
    """GetModelStatusResponse as TF Serving's REST API renders it (error codes by name)."""
    body = _to_json(response)
    for item in body.get("model_version_status", []):
        status = item.setdefault("status", {"error_code": 0, "error_message": ""})
        code = status.get("error_code", 0)
        if isinstance(code, int) and 0 <= code < len(ERROR_CODE_NAMES):
            status["error_code"] = ERROR_CODE_NAMES[code]
    return orjson.dumps(body, option=orjson.OPT_INDENT_2)
