"""classify/regress bodies -> tf.Example messages, with TF Serving's json_tensor_test.cc cases
(requests and expected protos carried over; the official messages decode our bytes)."""
import math

import pytest

from sanic_app.core.limits import Limits
from sanic_app.errors import InvalidArgument
from sanic_app.http.tfserving_examples import input_from_json

LIMITS = Limits()


def features(example):
    out = {}
    for name, feature in example.features.feature.items():
        kind = feature.WhichOneof("kind")
        out[name] = (kind, list(getattr(feature, kind).value))
    return out


def test_request_no_context():
    signature, request_input = input_from_json(b"""{"examples": [
        {"names": ["foo", "bar"], "ratings": [8.0, 9.0], "age": 20},
        {"names": ["baz"], "ratings": 6.0}]}""", LIMITS)
    assert signature is None
    first, second = request_input.example_list.examples
    assert features(first) == {"names": ("bytes_list", [b"foo", b"bar"]),
                               "ratings": ("float_list", [8.0, 9.0]), "age": ("int64_list", [20])}
    assert features(second) == {"names": ("bytes_list", [b"baz"]), "ratings": ("float_list", [6.0])}


def test_request_with_context_and_signature():
    signature, request_input = input_from_json(b"""{
      "signature_name": "custom_signture",
      "context": {"query": "pizza", "location": ["sfo"]},
      "examples": [
        {"names": ["foo", "bar"], "ratings": [8.0, 9.0, NaN, Infinity], "age": 20},
        {"names": ["baz", {"b64": "aGVsbG8="}], "ratings": 6.0, "intboolmix": [1, true, false]},
        {"names": "bar", "ratings": -Infinity}]}""", LIMITS)
    assert signature == "custom_signture"
    listed = request_input.example_list_with_context
    assert features(listed.context) == {"query": ("bytes_list", [b"pizza"]), "location": ("bytes_list", [b"sfo"])}
    one, two, three = (features(e) for e in listed.examples)
    assert one["ratings"][1][:2] == [8.0, 9.0] and math.isnan(one["ratings"][1][2]) and one["ratings"][1][3] == math.inf
    assert two == {"names": ("bytes_list", [b"baz", b"hello"]), "ratings": ("float_list", [6.0]),
                   "intboolmix": ("int64_list", [1, 1, 0])}
    assert three == {"names": ("bytes_list", [b"bar"]), "ratings": ("float_list", [-math.inf])}


def test_the_official_messages_read_our_bytes():
    input_pb2 = pytest.importorskip("tensorflow_serving.apis.input_pb2")
    _, request_input = input_from_json(b'{"context": {"k": 2.5}, "examples": [{"x": [1, 2], "s": "a"}]}', LIMITS)
    official = input_pb2.Input.FromString(request_input.SerializeToString())
    example = official.example_list_with_context.examples[0]
    assert list(example.features.feature["x"].int64_list.value) == [1, 2]
    assert list(official.example_list_with_context.context.features.feature["k"].float_list.value) == [2.5]


@pytest.mark.parametrize("body, words", [
    (b'{"signature_name": ["hello"], "examples": [{"names": ["foo", "bar"]}]}',
     "'signature_name' key must be a string"),
    (b'{"context": [{"names": ["foo", "bar"]}]}', "Example must be JSON object"),
    (b'{"examples": {"names": ["foo", "bar"]}}', "list/array"),
    (b'{"examples": [[{"names": ["foo", "bar"]}]]}', "Example must be JSON object"),
    (b'{"examples": [{"names": [10, null]}]}', "names has element with unexpected JSON type: Null"),
    (b'{"examples": [{"names": [10, 10.0]}]}', "feature: names expecting type: int64"),
    (b'{"examples": [{"names": [10, {"test": 10}]}]}', "names has element with unexpected JSON type: Object"),
    (b'{"examples": [{"names": [[10], 20]}]}', "names has element with unexpected JSON type: Array"),
    (b'{"examples": [{"names": [20, 18446744073709551603]}]}', "Only int64 is supported"),
    (b'{"examples": [{"names": 1.7976931348623157e+308}]}', "loss of precision"),
    (b'{"signature_name": "s"}', "key 'examples' is expected and was not found"),
    (b'{"examples": []}', "'examples' value is an empty array"),
    (b'', "JSON Parse error: The document is empty"),
    (b'[1]', "Is not object"),
])
def test_json_errors(body, words):
    with pytest.raises(InvalidArgument) as info:
        input_from_json(body, LIMITS)
    assert words in info.value.message
    assert info.value.status == 400
