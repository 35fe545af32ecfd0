"""TF Serving's :classify and :regress REST calls: JSON examples -> tf.Example protos, answers.

Request body (json_tensor.cc, FillClassifyRegressRequestFromJson): ``examples``, a non-empty
list of objects, each feature a value or a flat list of values, and an optional ``context``
object (its features are shared by every example). JSON integers and booleans make an
int64_list, decimals a float_list, strings and {"b64": ...} a bytes_list; null, nested lists,
other objects, mixed kinds, uint64 values and decimals beyond float's range are refused with
TF Serving's own messages. The examples travel as our wire-compatible Example messages in a
ClassificationRequest / RegressionRequest (core/examples); answers are laid out as TF Serving
writes them (http/tfserving_writer).
"""
from __future__ import annotations

import math

import pybase64
from sanic import response

from sanic_app.core import examples
from sanic_app.core.limits import Limits, check_batch
from sanic_app.errors import InvalidArgument
from sanic_app.http import tfserving_writer
from sanic_app.http.jsonbody import parse_json
from sanic_app.protos import example_pb2

_FLOAT_MAX = 3.4028234663852886e38
_INT64_MIN, _INT64_MAX, _UINT64_MAX = -(2**63), 2**63 - 1, 2**64 - 1
_KIND_NAMES = {"bytes_list": "bytes", "float_list": "float", "int64_list": "int64", None: "UNKNOWN"}


def _format_error(doc, words: str) -> InvalidArgument:
    return InvalidArgument(f"JSON Value: {tfserving_writer.json_text(doc)} {words}")


def _is_b64(value) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get("b64"), str)


def _unexpected(name: str, value) -> InvalidArgument:
    return InvalidArgument(f"Feature: {name} has element with unexpected JSON type: {tfserving_writer.json_type(value)}")


def _add_value(feature, name: str, value) -> None:
    kind = feature.WhichOneof("kind")

    def want(expected: str):
        if kind is not None and kind != expected:
            raise InvalidArgument(f"Unexpected element type in feature: {name} expecting type: "
                                  f"{_KIND_NAMES[kind]} (got a value for {_KIND_NAMES[expected]})")
        return getattr(feature, expected)

    if value is None or isinstance(value, list):
        raise _unexpected(name, value)
    if isinstance(value, bool):
        want("int64_list").value.append(1 if value else 0)
    elif isinstance(value, dict):
        if not _is_b64(value):
            raise _unexpected(name, value)
        target = want("bytes_list")
        try:
            target.value.append(pybase64.b64decode(value["b64"], validate=True))
        except ValueError:
            raise InvalidArgument(f"Unable to base64 decode (feature: {name})") from None
    elif isinstance(value, str):
        want("bytes_list").value.append(value.encode("utf-8"))
    elif isinstance(value, int) and value <= _UINT64_MAX and value >= _INT64_MIN:
        target = want("int64_list")
        if value > _INT64_MAX:
            raise InvalidArgument(f"Feature: {name} has uint64 element. Only int64 is supported.")
        target.value.append(value)
    else:  # a decimal (RapidJSON also reads integers beyond 64 bits as doubles)
        target = want("float_list")
        number = float(value)
        if math.isfinite(number) and abs(number) > _FLOAT_MAX:
            raise InvalidArgument(f"Cannot convert JSON value: {tfserving_writer.json_text(number)} to float "
                                  f"without loss of precision. (feature: {name})")
        target.value.append(number)


def example_from_json(value, into) -> None:
    """One JSON object -> the Example message ``into`` (TF Serving's MakeExampleFromJsonObject)."""
    if not isinstance(value, dict):
        raise InvalidArgument(f"Example must be JSON object but got JSON {tfserving_writer.json_type(value)}")
    for name, content in value.items():
        feature = example_pb2.Feature()
        for item in content if isinstance(content, list) else (content,):
            _add_value(feature, name, item)
        into.features.feature[name].CopyFrom(feature)


def input_from_json(body: bytes, limits: Limits) -> tuple[str | None, example_pb2.Input]:
    """(signature_name or None, Input message) from a classify/regress request body."""
    if not body:
        raise InvalidArgument("JSON Parse error: The document is empty")
    doc = parse_json(body, limits.max_json_depth)
    if not isinstance(doc, dict):
        raise _format_error(doc, "Is not object")
    signature = doc.get("signature_name")
    if "signature_name" in doc and not isinstance(signature, str):
        raise _format_error(doc, "not formatted correctly. 'signature_name' key must be a string value.")
    request_input = example_pb2.Input()
    has_context = "context" in doc
    if has_context:
        example_from_json(doc["context"], request_input.example_list_with_context.context)
    if "examples" not in doc:
        raise _format_error(doc, "When method is classify, key 'examples' is expected and was not found")
    items = doc["examples"]
    if not isinstance(items, list):
        raise _format_error(doc, "Expecting 'examples' value to be an list/array")
    if not items:
        raise _format_error(doc, "'examples' value is an empty array")
    check_batch(len(items), limits)
    target = (request_input.example_list_with_context if has_context else request_input.example_list).examples
    for item in items:
        example_from_json(item, target.add())
    return signature, request_input


async def classify_or_regress(request, url):
    """POST /v1/models/{m}[...]:classify or :regress."""
    signature, request_input = input_from_json(request.body, request.app.ctx.limits)
    registry = request.app.ctx.registry
    request.ctx.model = url.name
    upstream = registry.upstream_for(url.name)
    timeout = registry.deadline_for(url.name)
    if url.verb == "classify":
        results = await examples.classify(upstream, url.name, url.version, url.label, signature,
                                          request_input, timeout)
        body = tfserving_writer.classify_body(results)
    else:
        values = await examples.regress(upstream, url.name, url.version, url.label, signature,
                                        request_input, timeout)
        body = tfserving_writer.regress_body(values)
    return response.raw(body, content_type="application/json")
