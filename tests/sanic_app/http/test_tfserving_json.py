"""The answer direction of TF Serving's REST JSON: shapes, non-finite numbers, strings."""
import json

import numpy as np

from sanic_app.http.tfserving_json import predict_body


def test_answer_shapes_follow_tf_serving():
    two = {"a": np.array([[1], [2]], np.float32), "b": np.array([5, 6], np.int64)}
    assert json.loads(predict_body(two, row=True)) == {"predictions": [{"a": [1], "b": 5}, {"a": [2], "b": 6}]}
    assert json.loads(predict_body(two, row=False)) == {"outputs": {"a": [[1], [2]], "b": [5, 6]}}
    one = {"y": np.array([[1, 2], [3, 4]], np.float32)}
    assert json.loads(predict_body(one, row=False)) == {"outputs": [[1, 2], [3, 4]]}
    assert json.loads(predict_body(one, row=True)) == {"predictions": [[1, 2], [3, 4]]}


def test_non_finite_outputs_are_written_as_literals():
    raw = predict_body({"y": np.array([[np.nan, np.inf], [-np.inf, 1]], np.float32)}, row=True)
    assert raw == b'{\n    "predictions": [[NaN, Infinity], [-Infinity, 1.0]\n    ]\n}'


def test_string_outputs_text_or_b64():
    outs = {"word": np.array([b"hi", b"\xff"], object), "img_bytes": np.array([b"hi", b"yo"], object)}
    body = json.loads(predict_body(outs, row=False))
    assert body["outputs"]["word"] == ["hi", {"b64": "/w=="}]
    assert body["outputs"]["img_bytes"] == [{"b64": "aGk="}, {"b64": "eW8="}]


def test_request_errors_start_with_tf_servings_words():
    """json_tensor_test.cc's request error cases that a proxy can see before the backend."""
    import pytest

    from sanic_app.core.limits import Limits
    from sanic_app.errors import InvalidArgument
    from sanic_app.http.tfserving_json import call_from_json

    cases = [
        (b'{"instances": [{"a": [1]}, [1, 20, 30]]}', "Expecting object but got list at item 1 of input list"),
        (b'{"instances": [{"a": 1, "b": 2}, {"a": 3}]}',
         "Failed to process element: 1 of 'instances' list. JSON object:"),
        (b'{"instances": [1], "inputs": [1]}', "Not formatted correctly expecting only one of 'inputs' or 'instances'"),
        (b'{"instances": []}', "No values in 'instances' array"),
        (b'{"instances": 5}', "Excepting 'instances' to be an list/array"),
        (b'{"signature_name": 100, "instances": [1]}', "'signature_name' key must be a string value."),
        (b'', "JSON Parse error: The document is empty"),
    ]
    for body, words in cases:
        with pytest.raises(InvalidArgument) as info:
            call_from_json(body, "m", None, None, Limits())
        assert words in info.value.message, (body, info.value.message)



def test_columnar_inputs_are_read_by_the_signatures_keys():
    from sanic_app.core.call import PredictCall
    from sanic_app.core.spec import parse_spec
    from sanic_app.http.tfserving_json import read_by_signature

    config = parse_spec({"model": {"name": "m"}, "inputs": {"x": {"kind": "tensor", "dtype": "float32"}}}, "t.json")
    columnar = read_by_signature(PredictCall("m", {"x": [1.0], "extra": 2}, row=False), config)
    assert columnar.values == {"x": [1.0]}
    rows = read_by_signature(PredictCall("m", {"x": [1.0], "extra": [2]}, row=True), config)
    assert rows.values == {"x": [1.0], "extra": [2]}  # row form: the core refuses the stranger
