"""Request bodies -> PredictCall: row/columnar JSON, NaN literals, multipart, raw images."""
import math

import pytest

from sanic_app.errors import InvalidArgument
from sanic_app.core.limits import Limits
from sanic_app.http.bodies import call_from_multipart, call_from_raw_image
from sanic_app.http.jsonbody import parse_json
from sanic_app.http.tfserving_json import call_from_json

LIMITS = Limits()


def test_row_form_unnamed_and_named():
    call = call_from_json(b'{"instances": [[1, 2], [3, 4]]}', "m", None, None, LIMITS)
    assert call.row and call.batch_size == 2 and call.values == {None: [[1, 2], [3, 4]]}
    call = call_from_json(b'{"signature_name": "s", "instances": [{"a": 1, "b": [2]}, {"a": 3, "b": [4]}]}',
                          "m", 3, None, LIMITS)
    assert call.values == {"a": [1, 3], "b": [[2], [4]]} and call.signature_name == "s" and call.version == 3


def test_b64_objects_are_values_not_named_inputs():
    call = call_from_json(b'{"instances": [{"b64": "AAAA"}]}', "m", None, None, LIMITS)
    assert call.values == {None: [{"b64": "AAAA"}]}
    call = call_from_json(b'{"inputs": {"b64": "AAAA"}}', "m", None, "stable", LIMITS)
    assert not call.row and call.values == {None: {"b64": "AAAA"}} and call.label == "stable"


def test_columnar_form():
    call = call_from_json(b'{"inputs": {"a": [[1]], "b": "x"}}', "m", None, None, LIMITS)
    assert not call.row and call.values == {"a": [[1]], "b": "x"}
    call = call_from_json(b'{"inputs": [[1, 2]]}', "m", None, None, LIMITS)
    assert call.values == {None: [[1, 2]]}


def test_nan_and_infinity_literals_parse():
    doc = parse_json(b'{"instances": [[NaN, Infinity, -Infinity, 1.5]]}', LIMITS.max_json_depth)
    a, b, c, d = doc["instances"][0]
    assert math.isnan(a) and b == math.inf and c == -math.inf and d == 1.5


@pytest.mark.parametrize("body,words", [
    (b"", "empty"),
    (b"{nope", "JSON Parse error"),
    (b"[1, 2]", "must be a JSON object"),
    (b'{"instances": [1], "inputs": [1]}', "Not both"),
    (b'{"signature_name": "s"}', "Missing 'inputs' or 'instances'"),
    (b'{"instances": []}', "non-empty"),
    (b'{"instances": {"a": 1}}', "non-empty JSON array"),
    (b'{"instances": [{"a": 1}, {"b": 1}]}', "instance 1"),
    (b'{"instances": [{"a": 1}, {"a": 1, "b": 2}]}', "extra input"),
    (b'{"instances": [{"a": 1}, 5]}', "instance 1"),
    (b'{"signature_name": 5, "instances": [1]}', "signature_name"),
    (b'{"instances": [NaNa]}', "JSON Parse error"),
])
def test_bad_bodies(body, words):
    with pytest.raises(InvalidArgument) as info:
        call_from_json(body, "m", None, None, LIMITS)
    assert words in info.value.message and info.value.status == 400


class _File:
    def __init__(self, body):
        self.body = body


def test_multipart_parts_become_rows():
    files = {"image": [_File(b"1"), _File(b"2")]}
    form = {"scale": ["[1.5]", "[2.5]"], "signature_name": ["sig"]}
    call = call_from_multipart(form, files, "m", None, None, LIMITS)
    assert call.row and call.batch_size == 2
    assert call.values == {"image": [b"1", b"2"], "scale": [[1.5], [2.5]]}
    assert call.signature_name == "sig"


def test_multipart_counts_must_agree():
    with pytest.raises(InvalidArgument, match="same number of parts"):
        call_from_multipart({}, {"a": [_File(b"1")], "b": [_File(b"1"), _File(b"2")]}, "m", None, None, LIMITS)
    with pytest.raises(InvalidArgument, match="no parts"):
        call_from_multipart({}, {}, "m", None, None, LIMITS)


def test_raw_image_is_one_instance_of_the_only_input():
    call = call_from_raw_image(b"\x89PNG", "m", None, None)
    assert call.values == {None: [b"\x89PNG"]} and call.batch_size == 1
    with pytest.raises(InvalidArgument):
        call_from_raw_image(b"", "m", None, None)
