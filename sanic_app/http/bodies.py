"""Request bodies -> PredictCall: TF Serving JSON (row or columnar), multipart, raw images.

JSON goes through orjson; only when orjson refuses a body (NaN / Infinity literals, which TF
Serving accepts) is it parsed again with the tolerant standard library parser, so the common
path pays nothing for that compatibility.
"""
from __future__ import annotations

import json

import orjson

from sanic_app.core import limits
from sanic_app.errors import InvalidArgument
from sanic_app.core.pipeline import PredictCall, is_b64

_NONFINITE = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}


def parse_json(body: bytes):
    limits.check_json_depth(body, limits.current())  # before any parser recurses into it
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as first:
        try:
            return json.loads(body, parse_constant=_NONFINITE.__getitem__)
        except (ValueError, UnicodeDecodeError):
            raise InvalidArgument(f"JSON Parse error: {first}") from None


def call_from_json(body: bytes, model: str, version, label) -> PredictCall:
    if not body:
        raise InvalidArgument("JSON Parse error: the request body is empty")
    doc = parse_json(body)
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
        limits.check_batch(call.batch_size, limits.current(), "instances")
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
    limits.check_inputs(len(call.values), limits.current())
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


def call_from_multipart(form, files, model: str, version, label) -> PredictCall:
    """One part per input name (repeat a name for a batch); file parts are raw bytes, text
    parts are JSON values. Answered in row form."""
    values: dict = {}
    for name, items in files.items():
        values[name] = [f.body for f in items]
    for name, items in form.items():
        if name == "signature_name":
            continue
        if name in values:
            raise InvalidArgument(f"input {name!r} given both as a file and as a field")
        values[name] = [parse_json(text.encode()) for text in items]
    if not values:
        raise InvalidArgument("multipart body has no parts; send one part per input name")
    limits.check_inputs(len(values), limits.current())
    sizes = {len(v) for v in values.values()}
    if len(sizes) != 1:
        raise InvalidArgument("every input needs the same number of parts (one per instance), got "
                              + ", ".join(f"{n}: {len(v)}" for n, v in values.items()))
    signature = form["signature_name"][0] if form.get("signature_name") else None
    return PredictCall(model=model, values=values, row=True, version=version, label=label,
                       signature_name=signature, batch_size=sizes.pop())


def call_from_raw_image(body: bytes, model: str, version, label) -> PredictCall:
    if not body:
        raise InvalidArgument("the image body is empty")
    return PredictCall(model=model, values={None: [body]}, row=True, version=version, label=label,
                       batch_size=1)


def call_from_request(request, model: str, version, label) -> PredictCall:
    content_type = (request.content_type or "").split(";")[0].strip().lower()
    if content_type.startswith("image/"):
        return call_from_raw_image(request.body, model, version, label)
    if content_type == "multipart/form-data":
        return call_from_multipart(request.form, request.files, model, version, label)
    # TF Serving reads any other body as JSON whatever its Content-Type (curl -d sends
    # x-www-form-urlencoded), so existing clients keep working.
    return call_from_json(request.body, model, version, label)
