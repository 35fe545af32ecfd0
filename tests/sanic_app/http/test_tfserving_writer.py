"""TF Serving's answer layout (RapidJSON PrettyWriter as json_tensor.cc drives it), with the
values of TF Serving's own json_tensor_test.cc and http_rest_api_handler_test.cc cases."""
import json

import numpy as np
import pytest

from sanic_app.errors import InvalidArgument, error_body
from sanic_app.http import tfserving_writer as w


def test_row_single_output_closes_on_its_own_line():
    # half_plus_two's answer to {"instances": [[1.0, 2.0], [3.0, 4.0]]}
    out = {"y": np.array([[2.5, 3.0], [3.5, 4.0]], np.float32)}
    assert w.predictions_body(out) == b'{\n    "predictions": [[2.5, 3.0], [3.5, 4.0]\n    ]\n}'


def test_columnar_single_output_breaks_a_line_per_item():
    out = {"y": np.array([3.5, 4.0], np.float32)}
    assert w.outputs_body(out) == b'{\n    "outputs": [\n        3.5,\n        4.0\n    ]\n}'


def test_row_several_outputs_are_objects_per_example():
    out = {"double_scalar_tensor": np.array([8.0, 9.0]),
           "str_tensor": np.array([[b"foo", b"bar"], [b"baz", b"bat"]], object)}
    body = w.predictions_body(out)
    assert body == (b'{\n    "predictions": [\n        {\n'
                    b'            "double_scalar_tensor": 8.0,\n'
                    b'            "str_tensor": ["foo", "bar"]\n        },\n        {\n'
                    b'            "double_scalar_tensor": 9.0,\n'
                    b'            "str_tensor": ["baz", "bat"]\n        }\n    ]\n}')


def test_columnar_several_outputs_match_tf_servings_case():
    # FromJsonMultipleNamedTensors, columnar (values compared after parsing, as TF Serving does)
    out = {"double_scalar_tensor": np.array([8.0, 9.0]),
           "float_tensor": np.array([[1.0], [2.0]], np.float32),
           "int_tensor": np.array([[[1, 2], [3, 4], [5, 6]], [[7, 8], [9, 0], [1, 2]]], np.int32),
           "str_tensor": np.array([[b"foo", b"bar"], [b"baz", b"bat"]], object),
           "str_tensor_bytes": np.array([[b"hello", b"world"], [b"tf", b"serving"]], object)}
    assert json.loads(w.outputs_body(out)) == {"outputs": {
        "double_scalar_tensor": [8.0, 9.0], "float_tensor": [[1.0], [2.0]],
        "int_tensor": [[[1, 2], [3, 4], [5, 6]], [[7, 8], [9, 0], [1, 2]]],
        "str_tensor": [["foo", "bar"], ["baz", "bat"]],
        "str_tensor_bytes": [[{"b64": "aGVsbG8="}, {"b64": "d29ybGQ="}],
                             [{"b64": "dGY="}, {"b64": "c2VydmluZw=="}]]}}
    assert b'\n    "outputs": {\n        "double_scalar_tensor": [\n            8.0,' in w.outputs_body(out)


def test_row_rank0_output_has_no_shape_information():
    with pytest.raises(InvalidArgument, match=r"^Tensor name: y has no shape information"):
        w.predictions_body({"y": np.array(3.0, np.float32)})
    assert w.outputs_body({"y": np.array(3.0, np.float32)}) == b'{\n    "outputs": 3.0\n}'


def test_row_inconsistent_batch_size():
    out = {"int_tensor": np.zeros((2, 3), np.int32), "str_tensor": np.array([[b"a", b"b", b"c"]], object)}
    with pytest.raises(InvalidArgument, match=r"^Tensor name: str_tensor has inconsistent batch size: 1 expecting: 2"):
        w.predictions_body(out)


def test_classify_and_regress_results():
    # JsonFromClassificationResult / JsonFromRegressionResult (float32 scores)
    body = w.classify_body([[("car", 0.2), ("bike", 0.7), ("bus", 0.1)],
                            [("car", 0.7), ("bike", 0.1), ("bus", 0.2)]])
    assert body == (b'{\n    "results": [[["car", 0.2], ["bike", 0.7], ["bus", 0.1]], '
                    b'[["car", 0.7], ["bike", 0.1], ["bus", 0.2]]\n    ]\n}')
    assert w.regress_body([0.2, 0.9, 1.0]) == b'{\n    "results": [0.2, 0.9, 1.0]\n}'
    assert w.regress_body([0.2, np.inf, 1.0, -np.inf, np.nan]) == \
        b'{\n    "results": [0.2, Infinity, 1.0, -Infinity, NaN]\n}'
    with pytest.raises(InvalidArgument, match="empty ClassificationResults"):
        w.classify_body([])
    with pytest.raises(InvalidArgument, match="empty RegressionResults"):
        w.regress_body([])


def test_error_body():
    assert error_body('bad "x"\n') == b'{\n    "error": "bad \\"x\\"\\n"\n}'


def test_post_processed_values_use_the_same_layout():
    out = {"scores": [[{"class": 3, "score": 0.5, "label": "3"}]]}
    body = w.predictions_body(out)
    assert json.loads(body) == {"predictions": [[{"class": 3, "score": 0.5, "label": "3"}]]}


def test_complex_outputs_have_no_json_form():
    # FromJsonSingleTensorErrors: TF Serving refuses to write complex64
    with pytest.raises(InvalidArgument, match="tensor type: complex64"):
        w.predictions_body({"tensor": np.array([1.0, 2.0], np.complex64)})
