"""The TF Serving route's body forms -> PredictCall: JSON, multipart uploads, raw images.

JSON is TF Serving's own format (http/tfserving_json); multipart and raw image bodies are the
gateway's additions for web forms and curl, answered in row form.
"""
from __future__ import annotations

from sanic_app.core.call import PredictCall
from sanic_app.core.limits import Limits, check_inputs
from sanic_app.errors import InvalidArgument
from sanic_app.http.jsonbody import parse_json
from sanic_app.http.tfserving_json import call_from_json


def call_from_multipart(form, files, model: str, version, label, limits: Limits) -> PredictCall:
    """One part per input name (repeat a name for a batch); file parts are raw bytes, text
    parts are JSON values."""
    values: dict = {}
    for name, items in files.items():
        values[name] = [f.body for f in items]
    for name, items in form.items():
        if name == "signature_name":
            continue
        if name in values:
            raise InvalidArgument(f"input {name!r} given both as a file and as a field")
        values[name] = [parse_json(text.encode(), limits.max_json_depth) for text in items]
    if not values:
        raise InvalidArgument("multipart body has no parts; send one part per input name")
    check_inputs(len(values), limits)
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


def call_from_request(request, model: str, version, label, limits: Limits) -> PredictCall:
    content_type = (request.content_type or "").split(";")[0].strip().lower()
    if content_type.startswith("image/"):
        return call_from_raw_image(request.body, model, version, label)
    if content_type == "multipart/form-data":
        return call_from_multipart(request.form, request.files, model, version, label, limits)
    # TF Serving reads any other body as JSON whatever its Content-Type (curl -d sends
    # x-www-form-urlencoded), so existing clients keep working.
    call = call_from_json(request.body, model, version, label, limits)
    request.body = b""  # parsed: its strings hold the values now, so the raw copy need not stay
    return call
