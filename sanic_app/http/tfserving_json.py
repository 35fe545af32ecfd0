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

from google.protobuf import json_format

from sanic_app.core.call import PredictCall
from sanic_app.core.decode import is_b64
from sanic_app.core.limits import Limits, check_inputs
from sanic_app.errors import InvalidArgument
from sanic_app.http import tfserving_writer
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
        raise InvalidArgument("JSON Parse error: The document is empty")
    doc = parse_json(body, limits.max_json_depth)
    if not isinstance(doc, dict):
        raise InvalidArgument("JSON Parse error: the request body must be a JSON object")
    signature = doc.get("signature_name")
    if signature is not None and not isinstance(signature, str):
        raise InvalidArgument(f"JSON Value: {tfserving_writer.json_text(doc)} not formatted correctly. "
                              "'signature_name' key must be a string value.")
    has_instances, has_inputs = "instances" in doc, "inputs" in doc
    if has_instances == has_inputs:
        if not has_instances:
            raise InvalidArgument("Missing 'inputs' or 'instances' key")
        raise InvalidArgument(f"JSON Value: {tfserving_writer.json_text(doc)} Not formatted correctly "
                              "expecting only one of 'inputs' or 'instances' keys to exist "
                              "(Not both 'inputs' and 'instances' may be given)")
    call = PredictCall(model=model, values={}, row=has_instances, version=version, label=label,
                       signature_name=signature or None)
    if has_instances:
        instances = doc["instances"]
        if not isinstance(instances, list) or not instances:
            words = "Excepting 'instances' to be an list/array" if not isinstance(instances, list) \
                else "No values in 'instances' array"  # TF Serving's words, its spelling
            raise InvalidArgument(f"JSON Value: {tfserving_writer.json_text(doc)} {words} "
                                  "('instances' must be a non-empty JSON array)")
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


def read_by_signature(call: PredictCall, config) -> PredictCall:
    """TF Serving reads only the signature's keys from a columnar "inputs" object: other keys
    are dropped here, before the core, which refuses names a model does not take."""
    values = call.values
    if not call.row and None not in values and any(name not in config.inputs for name in values):
        call.values = {name: v for name, v in values.items() if name in config.inputs}
    return call


def _columns(instances: list) -> dict:
    """Row form with named inputs: one list per input, checking every instance has them all."""
    names = list(instances[0])
    columns = {name: [] for name in names}
    for i, instance in enumerate(instances):
        if not isinstance(instance, dict) or is_b64(instance):
            raise InvalidArgument(f"Expecting object but got list at item {i} of input list "
                                  f"(instance {i}: expected an object of named inputs like instance 0, "
                                  f"got {type(instance).__name__})")
        if len(instance) != len(names):
            extra = set(instance) - set(names)
            missing = set(names) - set(instance)
            what = f"has extra input(s) {sorted(extra)}" if extra else f"is missing input(s) {sorted(missing)}"
            raise InvalidArgument(
                f"Failed to process element: {i} of 'instances' list. JSON object: "
                f"{tfserving_writer.json_text(instance)} keys must be equal to: {','.join(sorted(names))} "
                f"(instance {i} {what}; every instance needs the same named inputs)")
        for name in names:
            try:
                columns[name].append(instance[name])
            except KeyError:
                raise InvalidArgument(f"instance {i} is missing input {name!r}") from None
    return columns


# ---- answer: named outputs -> JSON bytes --------------------------------------------------

def predict_body(outputs: dict[str, Any], row: bool) -> bytes:
    """The predict answer, byte for byte as TF Serving writes it (http/tfserving_writer):
    row -> "predictions", columnar -> "outputs"; a lone output bare, several keyed by name;
    DT_STRING as text, {"b64"} for names ending in _bytes and for bytes that are not UTF-8."""
    if row:
        return tfserving_writer.predictions_body(outputs)
    return tfserving_writer.outputs_body(outputs)


# ---- model status and metadata ------------------------------------------------------------

def _to_json(message) -> dict:
    return json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)


def _pb_json(obj) -> str:
    # protobuf's C++ JSON printer with add_whitespace: one space per level, ": " after keys
    return json.dumps(obj, indent=1, ensure_ascii=False)


def metadata_body(model_spec, signatures) -> bytes:
    """GetModelMetadataResponse as TF Serving's REST API renders it: two protobuf JSON
    documents (every field printed, "defaults": {} included) joined by its own text."""
    return ("{\n\"model_spec\":" + _pb_json(_to_json(model_spec))
            + ",\n\"metadata\": {\"signature_def\": " + _pb_json(_to_json(signatures))
            + "}\n}\n").encode("utf-8")


def status_body(response) -> bytes:
    """GetModelStatusResponse as TF Serving's REST API renders it (error codes by name)."""
    body = _to_json(response)
    for item in body.get("model_version_status", []):
        status = item.setdefault("status", {"error_code": 0, "error_message": ""})
        code = status.get("error_code", 0)
        if isinstance(code, int) and 0 <= code < len(ERROR_CODE_NAMES):
            status["error_code"] = ERROR_CODE_NAMES[code]
    return _pb_json(body).encode("utf-8")
