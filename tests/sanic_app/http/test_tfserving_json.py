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
