"""TF Serving REST parity, end to end: the cases of TF Serving's http_rest_api_handler_test.cc
and json_tensor_test.cc (their requests and expected answers carried over as facts) sent to a
2-worker gateway in pass-through mode in front of the embedded backend serving a
half_plus_two SavedModel built here with TensorFlow (y = 0.5 x + 2, as TF Serving's test
model, with its classify_x_to_y and regress_x_to_y signatures) plus a few signatures that
return the tensors of json_tensor_test.cc's answer cases. Successful answers are compared
byte for byte with the layout TF Serving's RapidJSON writer gives."""
import json

import numpy as np
import pytest
from tfserving_vectors import UNSUPPORTED_API_CALLS

pytestmark = [pytest.mark.tensorflow, pytest.mark.slow]

MODEL = "half_plus_two"


def build_half_plus_two(tf, path):
    """A TF1-style SavedModel (SavedModelBuilder keeps classify/regress method names)."""
    v1 = tf.compat.v1
    with tf.Graph().as_default():
        x = v1.placeholder(tf.float32, name="x")  # unknown shape, as in TF Serving's model
        y = tf.add(tf.multiply(x, 0.5), 2.0, name="y")
        serialized = v1.placeholder(tf.string, [None], name="tf_example")
        parsed = v1.io.parse_example(serialized, {
            "x": v1.io.FixedLenFeature([1], tf.float32),
            "k": v1.io.FixedLenFeature([1], tf.float32, default_value=[1.0])})
        y2 = parsed["x"] * 0.5 + 2.0
        six = tf.constant([[9000000, 999999, 0.5], [.0003, .00003, 555557.5]], tf.float32)
        nonfinite = tf.constant([[np.nan, np.inf], [3, -np.inf]], tf.float32)
        words = tf.strings.as_string(x)
        sig = v1.saved_model
        signatures = {
            "serving_default": sig.predict_signature_def({"x": x}, {"y": y}),
            "classify_x_to_y": sig.classification_signature_def(serialized, None, y2),
            "regress_x_to_y": sig.regression_signature_def(serialized, y2),
            "regress_xk": sig.regression_signature_def(serialized, parsed["x"] * parsed["k"]),
            "scalar": sig.predict_signature_def({"x": x}, {"y": tf.reduce_sum(y)}),
            "six_digits": sig.predict_signature_def({"x": x}, {"y": six + tf.zeros_like(x)}),
            "nonfinite": sig.predict_signature_def({"x": x}, {"y": nonfinite + tf.zeros_like(x)}),
            "ints": sig.predict_signature_def({"x": x}, {"y": tf.cast(x, tf.int32)}),
            "strings": sig.predict_signature_def(
                {"x": x}, {"text": words, "text_bytes": words, "y": y}),
        }
        with v1.Session() as session:
            builder = sig.Builder(str(path))
            builder.add_meta_graph_and_variables(session, ["serve"], signature_def_map=signatures)
            builder.save()


@pytest.fixture(scope="module")
def gw(localserve_factory, gateway_factory, tmp_path_factory):
    tf = pytest.importorskip("tensorflow")
    base = tmp_path_factory.mktemp("half_plus_two")
    build_half_plus_two(tf, base / "123")
    with localserve_factory("--model_name", MODEL, "--model_base_path", str(base),
                            "--version_label", "stable=123", startup_timeout=120) as backend, \
            gateway_factory("--workers", "2", "--target", backend.target) as gateway:
        yield gateway


def post(gw, path, body):
    return gw.post(path, content=body if isinstance(body, bytes) else json.dumps(body).encode())


def assert_answer(r, body: bytes):
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    assert r.content == body


def assert_error(r, status: int, words: str):
    assert r.status_code == status, r.text
    assert words in r.json()["error"], r.json()["error"]


# ---- http_rest_api_handler_test.cc: Predict, Regress, Classify -----------------------------

@pytest.mark.parametrize("path", [f"/v1/models/{MODEL}:predict", f"/v1/models/{MODEL}/versions/123:predict",
                                  f"/v1/models/{MODEL}/labels/stable:predict",
                                  f"/V1/MODELS/{MODEL}:predict", "/v1/models/half%5Fplus%5Ftwo:predict"])
def test_predict(gw, path):
    r = post(gw, path, {"instances": [[1.0, 2.0], [3.0, 4.0]]})
    assert_answer(r, b'{\n    "predictions": [[2.5, 3.0], [3.5, 4.0]\n    ]\n}')
    r = post(gw, path, {"instances": [1.0, 2.0]})
    assert_answer(r, b'{\n    "predictions": [2.5, 3.0\n    ]\n}')


def test_predict_with_signature_name_row_and_columnar(gw):
    r = post(gw, f"/v1/models/{MODEL}/versions/123:predict",
             {"signature_name": "serving_default", "instances": [3.0, 4.0]})
    assert_answer(r, b'{\n    "predictions": [3.5, 4.0\n    ]\n}')
    r = post(gw, f"/v1/models/{MODEL}/versions/123:predict",
             {"signature_name": "serving_default", "inputs": [3.0, 4.0]})
    assert_answer(r, b'{\n    "outputs": [\n        3.5,\n        4.0\n    ]\n}')


@pytest.mark.parametrize("path", [f"/v1/models/{MODEL}:regress", f"/v1/models/{MODEL}/versions/123:regress",
                                  f"/v1/models/{MODEL}/labels/stable:regress"])
def test_regress(gw, path):
    r = post(gw, path, {"signature_name": "regress_x_to_y", "examples": [{"x": 80.0}]})
    assert_answer(r, b'{\n    "results": [42.0]\n}')


@pytest.mark.parametrize("path, x, y", [(f"/v1/models/{MODEL}:classify", 20.0, b"12.0"),
                                        (f"/v1/models/{MODEL}/labels/stable:classify", 10.0, b"7.0")])
def test_classify(gw, path, x, y):
    r = post(gw, path, {"signature_name": "classify_x_to_y", "examples": [{"x": x}]})
    assert_answer(r, b'{\n    "results": [[["", ' + y + b']]\n    ]\n}')


def test_regress_with_context_and_several_examples(gw):
    r = post(gw, f"/v1/models/{MODEL}:regress", {
        "signature_name": "regress_xk", "context": {"k": 3.0},
        "examples": [{"x": 2.0}, {"x": 1.5, "k": 2.0}, {"x": [0.1]}]})
    # the example's own feature wins over the context's
    assert_answer(r, b'{\n    "results": [6.0, 3.0, 0.3]\n}')


def test_classify_needs_a_classification_signature(gw):
    r = post(gw, f"/v1/models/{MODEL}:classify", {"examples": [{"x": 1.0}]})
    assert_error(r, 400, "Expected classification signature method_name to be tensorflow/serving/classify")


# ---- http_rest_api_handler_test.cc: UnsupportedApiCalls, name/version errors ---------------

@pytest.mark.parametrize("method, path", UNSUPPORTED_API_CALLS)
def test_unsupported_api_calls(gw, method, path):
    r = getattr(gw, method.lower())(path)
    assert r.status_code == 400, r.text
    assert r.content == b'{\n    "error": "Malformed request: ' + f"{method} {path}".encode() + b'"\n}'


def test_missing_model_name_and_bad_version(gw):
    assert_error(gw.get("/v1/models"), 400, "Missing model name in request.")
    assert_error(gw.post(f"/v1/models/foo/versions/{2**64 - 1}:regress"), 400, "Failed to convert version")
    assert gw.get("/nothing/here").status_code == 404  # outside /v1/ the gateway's own 404


@pytest.mark.parametrize("path", ["/v1/models/foo:predict", "/v1/models/foo/versions/50:predict",
                                  f"/v1/models/{MODEL}99:predict"])
def test_predict_model_name_version_errors(gw, path):
    assert post(gw, path, {"instances": [1]}).status_code == 404


def test_predict_request_errors(gw):
    path = f"/v1/models/{MODEL}:predict"
    assert_error(post(gw, path, b""), 400, "JSON Parse error: The document is empty")
    assert_error(post(gw, path, b"instances = [1, 2]"), 400, "JSON Parse error")
    assert_error(post(gw, path, {"instances": ["x", "y"]}), 400, "not of expected type: float")
    assert_error(post(gw, f"/v1/models/{MODEL}/labels/nope:predict", {"instances": ["x", "y"]}), 400,
                 "Unrecognized servable version label")
    assert_error(post(gw, path, {"signature_name": 100}), 400, "'signature_name' key must be a string value.")
    # json_tensor_test.cc: integers a float cannot hold exactly
    assert_error(post(gw, path, b'{"instances": [16777217]}'), 400,
                 "Cannot convert JSON value: 16777217 to float without loss of precision.")


# ---- status and metadata --------------------------------------------------------------------

@pytest.mark.parametrize("path", [f"/v1/models/{MODEL}", f"/v1/models/{MODEL}/versions/123",
                                  f"/v1/models/{MODEL}/labels/stable"])
def test_get_status(gw, path):
    r = gw.get(path)
    assert r.status_code == 200, r.text
    assert r.json() == {"model_version_status": [
        {"version": "123", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]}
    assert r.content.startswith(b'{\n "model_version_status": [\n  {\n   "version": "123",')


def test_metadata_signatures_carry_defaults(gw):
    r = gw.get(f"/v1/models/{MODEL}/metadata")
    assert r.status_code == 200, r.text
    meta = r.json()
    assert meta["model_spec"] == {"name": MODEL, "signature_name": "", "version": "123"}
    signatures = meta["metadata"]["signature_def"]["signature_def"]
    assert {"serving_default", "classify_x_to_y", "regress_x_to_y"} <= set(signatures)
    assert all(s["defaults"] == {} for s in signatures.values())
    assert signatures["classify_x_to_y"]["method_name"] == "tensorflow/serving/classify"
    assert r.content.startswith(b'{\n"model_spec":{\n "name": "half_plus_two",')


# ---- json_tensor_test.cc answer cases ---------------------------------------------------------

def test_six_digit_precision_floats(gw):
    r = post(gw, f"/v1/models/{MODEL}:predict", {"signature_name": "six_digits", "instances": [[0.0], [0.0]]})
    assert_answer(r, b'{\n    "predictions": [[9e+06, 999999.0, 0.5], [0.0003, 3e-05, 555557.5]\n    ]\n}')


def test_non_finite_floats(gw):
    r = post(gw, f"/v1/models/{MODEL}:predict", {"signature_name": "nonfinite", "instances": [[0.0], [0.0]]})
    assert_answer(r, b'{\n    "predictions": [[NaN, Infinity], [3.0, -Infinity]\n    ]\n}')


def test_ints_row_and_columnar(gw):
    body = {"signature_name": "ints", "instances": [[[1, 2], [3, 4], [5, 6]], [[7, 8], [9, 0], [1, 2]]]}
    r = post(gw, f"/v1/models/{MODEL}:predict", body)
    assert_answer(r, b'{\n    "predictions": [[[1, 2], [3, 4], [5, 6]], [[7, 8], [9, 0], [1, 2]]\n    ]\n}')
    r = post(gw, f"/v1/models/{MODEL}:predict", {"signature_name": "ints", "inputs": [[1, 2]]})
    assert_answer(r, b'{\n    "outputs": [\n        [\n            1,\n            2\n        ]\n    ]\n}')


def test_rank0_output_row_is_400_columnar_is_the_value(gw):
    r = post(gw, f"/v1/models/{MODEL}:predict", {"signature_name": "scalar", "instances": [1.0, 2.0]})
    assert_error(r, 400, "Tensor name: y has no shape information")
    r = post(gw, f"/v1/models/{MODEL}:predict", {"signature_name": "scalar", "inputs": [1.0, 2.0]})
    assert_answer(r, b'{\n    "outputs": 5.5\n}')


def test_columnar_extra_keys_are_ignored(gw):
    r = post(gw, f"/v1/models/{MODEL}:predict", {"inputs": {"x": [1.0], "unused": [[1, 2]]}})
    assert_answer(r, b'{\n    "outputs": [\n        2.5\n    ]\n}')


def test_several_outputs_with_bytes(gw):
    r = post(gw, f"/v1/models/{MODEL}:predict", {"signature_name": "strings", "instances": [[1.5], [2.0]]})
    assert r.status_code == 200, r.text
    assert r.json() == {"predictions": [
        {"text": ["1.500000"], "text_bytes": [{"b64": "MS41MDAwMDA="}], "y": [2.75]},
        {"text": ["2.000000"], "text_bytes": [{"b64": "Mi4wMDAwMDA="}], "y": [3.0]}]}
    # RapidJSON opens the {"b64"} object on its own lines inside a single-line array,
    # indented by the five containers open around its key
    assert b'"text_bytes": [{\n' + b" " * 20 + b'"b64": "MS41MDAwMDA="\n' + b" " * 16 + b"}]" in r.content
