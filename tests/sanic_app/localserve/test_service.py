"""Predict, GetModelMetadata and GetModelStatus through the official TF Serving client.

One backend per module serves digits (with a version label), an Inception-shaped null model
and a multi-dtype null model; each test checks the answer or the status code and message
TF Serving gives for the same request.
"""
import grpc
import numpy as np
import pytest

from sanic_app.localserve.process import LocalServe

from .conftest import INCEPTION, MULTI

pytestmark = pytest.mark.tensorflow


@pytest.fixture(scope="module")
def backend():
    with LocalServe("--model_name", "digits", "--version_label", "stable=1",
                    "--null_model", INCEPTION, "--null_model", MULTI) as served:
        yield served


@pytest.fixture(scope="module")
def stubs(backend, stubs_for):
    return stubs_for(backend)


@pytest.fixture(scope="module")
def digits_data():
    from sklearn.datasets import load_digits

    data = load_digits()
    return data.images[:32].astype(np.float32)[..., None], data.target[:32]


def predict_request(official, model="digits", inputs=None, **spec):
    request = official.predict_pb2.PredictRequest()
    request.model_spec.name = model
    for key, value in spec.items():
        if key == "version":
            request.model_spec.version.value = value
        else:
            setattr(request.model_spec, key, value)
    for alias, value in (inputs or {}).items():
        request.inputs[alias].CopyFrom(
            value if hasattr(value, "dtype") and not isinstance(value, np.ndarray)
            else official.tf.make_tensor_proto(value))
    return request


def rpc_error(call, request):
    with pytest.raises(grpc.RpcError) as caught:
        call(request, timeout=10)
    return caught.value.code(), caught.value.details()


# --- Predict: good requests -------------------------------------------------------------


def test_digits_predict_classifies_and_reports_model_spec(official, stubs, digits_data):
    images, labels = digits_data
    response = stubs.prediction.Predict(
        predict_request(official, inputs={"image": images}), timeout=10)
    probabilities = official.tf.make_ndarray(response.outputs["probabilities"])
    classes = official.tf.make_ndarray(response.outputs["classes"])
    assert probabilities.dtype == np.float32 and probabilities.shape == (32, 10)
    assert classes.dtype == np.int64 and classes.shape == (32,)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_array_equal(classes, probabilities.argmax(axis=1))
    assert (classes == labels).mean() > 0.9
    # TF Serving answers in the typed *_val fields by default, not tensor_content
    assert len(response.outputs["probabilities"].float_val) == 320
    assert not response.outputs["probabilities"].tensor_content
    assert response.model_spec.name == "digits"
    assert response.model_spec.version.value == 1
    assert response.model_spec.signature_name == "serving_default"


def test_float_val_input_gives_the_same_answer_as_tensor_content(official, stubs, digits_data):
    images = digits_data[0][:3]
    typed = official.tf.make_tensor_proto(images)
    typed.ClearField("tensor_content")
    typed.float_val.extend(images.reshape(-1).tolist())
    by_content = stubs.prediction.Predict(predict_request(official, inputs={"image": images}))
    by_values = stubs.prediction.Predict(predict_request(official, inputs={"image": typed}))
    assert by_values.outputs["probabilities"] == by_content.outputs["probabilities"]


def test_version_and_label_select_the_same_servable(official, stubs, digits_data):
    images = digits_data[0][:2]
    for spec in ({"version": 1}, {"version_label": "stable"}):
        response = stubs.prediction.Predict(
            predict_request(official, inputs={"image": images}, **spec))
        assert response.model_spec.version.value == 1


def test_output_filter_returns_only_the_named_outputs(official, stubs, digits_data):
    request = predict_request(official, inputs={"image": digits_data[0][:2]})
    request.output_filter.append("classes")
    response = stubs.prediction.Predict(request)
    assert list(response.outputs) == ["classes"]


def test_null_model_batch_follows_request_and_is_deterministic(official, stubs):
    images = np.zeros((2, 299, 299, 3), np.float32)
    request = predict_request(official, "inception", {"images": images})
    first = stubs.prediction.Predict(request)
    second = stubs.prediction.Predict(request)
    scores = official.tf.make_ndarray(first.outputs["scores"])
    assert scores.shape == (2, 1001) and scores.dtype == np.float32
    assert first.outputs["scores"] == second.outputs["scores"]
    assert len(np.unique(scores)) > 100  # not a constant


def test_null_model_answers_every_dtype_in_val_fields(official, stubs):
    inputs = {"a": np.arange(6, dtype=np.int64).reshape(2, 3), "b": np.array([b"x", b"y"])}
    response = stubs.prediction.Predict(predict_request(official, "multi", inputs))
    out = {k: official.tf.make_ndarray(v) for k, v in response.outputs.items()}
    assert (out["x"].dtype, out["x"].shape) == (np.float64, (2, 2))
    assert (out["y"].dtype, out["y"].shape) == (np.int32, (2,))
    assert (out["z"].dtype, out["z"].shape) == (np.bool_, (2, 2))
    assert len(response.outputs["x"].double_val) == 4
    assert len(response.outputs["y"].int_val) == 2
    assert len(response.outputs["z"].bool_val) == 4


def test_tensor_content_flag_answers_in_tensor_content(official, stubs_for):
    with LocalServe("--null_model", INCEPTION, "--tensor_content") as served:
        stubs = stubs_for(served)
        response = stubs.prediction.Predict(predict_request(
            official, "inception", {"images": np.zeros((1, 299, 299, 3), np.float32)}))
        scores = response.outputs["scores"]
        assert len(scores.tensor_content) == 1001 * 4 and not scores.float_val
        assert official.tf.make_ndarray(scores).shape == (1, 1001)


# --- Predict: bad requests, TF Serving's codes and messages -----------------------------


def test_unknown_model(official, stubs, digits_data):
    code, details = rpc_error(stubs.prediction.Predict, predict_request(
        official, "nope", {"image": digits_data[0][:1]}))
    assert code == grpc.StatusCode.NOT_FOUND
    assert details == "Servable not found for request: Latest(nope)"


def test_unknown_version(official, stubs, digits_data):
    code, details = rpc_error(stubs.prediction.Predict, predict_request(
        official, inputs={"image": digits_data[0][:1]}, version=7))
    assert code == grpc.StatusCode.NOT_FOUND
    assert details == "Servable not found for request: Specific(digits, 7)"


def test_unknown_label(official, stubs, digits_data):
    code, details = rpc_error(stubs.prediction.Predict, predict_request(
        official, inputs={"image": digits_data[0][:1]}, version_label="canary"))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert details == "Unrecognized servable version label: canary"


def test_missing_model_spec(official, stubs):
    code, details = rpc_error(stubs.prediction.Predict, official.predict_pb2.PredictRequest())
    assert (code, details) == (grpc.StatusCode.INVALID_ARGUMENT, "Missing ModelSpec")


def test_unknown_signature(official, stubs, digits_data):
    code, details = rpc_error(stubs.prediction.Predict, predict_request(
        official, inputs={"image": digits_data[0][:1]}, signature_name="classify"))
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    assert details == 'Serving signature key "classify" not found.'


def test_missing_input(official, stubs):
    code, details = rpc_error(stubs.prediction.Predict, predict_request(official))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert details.startswith("input size does not match signature: 0!=1 len({}) != len({image})")
    assert details.endswith("Sent extra: {}. Missing but required: {image}.")


def test_extra_input(official, stubs, digits_data):
    code, details = rpc_error(stubs.prediction.Predict, predict_request(
        official, inputs={"image": digits_data[0][:1], "zzz": np.ones(1, np.float32)}))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert "Sent extra: {zzz}. Missing but required: {}." in details


def test_misnamed_input(official, stubs, digits_data):
    code, details = rpc_error(stubs.prediction.Predict, predict_request(
        official, inputs={"img": digits_data[0][:1]}))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert details.startswith("Signature input alias: image(feed name: serving_default_image:0) "
                              "not found in request and no default value provided.")
    assert "Inputs expected to be in the request {img}" in details


def test_wrong_dtype(official, stubs):
    code, details = rpc_error(stubs.prediction.Predict, predict_request(
        official, inputs={"image": np.zeros((1, 8, 8, 1), np.int64)}))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert details == "Expects arg[0] to be float but int64 is provided"


def test_wrong_shape(official, stubs):
    code, details = rpc_error(stubs.prediction.Predict, predict_request(
        official, inputs={"image": np.zeros((1, 8, 8), np.float32)}))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert "[1,8,8]" in details and "[-1,8,8,1]" in details


def test_tensor_content_of_the_wrong_size(official, stubs):
    proto = official.tf.make_tensor_proto(np.zeros((1, 8, 8, 1), np.float32))
    proto.tensor_content = proto.tensor_content[:-4]
    code, details = rpc_error(stubs.prediction.Predict,
                              predict_request(official, inputs={"image": proto}))
    assert (code, details) == (grpc.StatusCode.INVALID_ARGUMENT, "tensor parsing error: image")


def test_unknown_and_duplicate_output_filter(official, stubs, digits_data):
    request = predict_request(official, inputs={"image": digits_data[0][:1]})
    request.output_filter.append("logits")
    code, details = rpc_error(stubs.prediction.Predict, request)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert details == ("output tensor alias not found in signature: logits "
                       "Outputs expected to be in the set {classes,probabilities}.")
    request.output_filter[:] = ["classes", "classes"]
    code, details = rpc_error(stubs.prediction.Predict, request)
    assert (code, details) == (grpc.StatusCode.INVALID_ARGUMENT,
                               "duplicate output tensor alias: classes")


def test_garbage_bytes_get_an_error_and_the_server_lives_on(official, stubs, backend):
    from sanic_app.protos import PREDICT

    raw = stubs.channel.unary_unary(PREDICT)
    for junk in (b"\xff\xff\xff", b"\x0a\x05ab", b"\x12\x80\x80\x80\x80\x10"):
        with pytest.raises(grpc.RpcError) as caught:
            raw(junk, timeout=10)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = official.status_pb2.GetModelStatusRequest()
    status.model_spec.name = "digits"
    assert stubs.model.GetModelStatus(status).model_version_status[0].version == 1
    assert backend.running


# --- GetModelMetadata -------------------------------------------------------------------


def metadata_request(official, name="digits", fields=("signature_def",), version=None):
    request = official.metadata_pb2.GetModelMetadataRequest()
    request.model_spec.name = name
    if version is not None:
        request.model_spec.version.value = version
    request.metadata_field.extend(fields)
    return request


def test_metadata_has_the_signature_def_map(official, stubs):
    response = stubs.prediction.GetModelMetadata(metadata_request(official))
    assert response.model_spec.name == "digits" and response.model_spec.version.value == 1
    signature_map = official.metadata_pb2.SignatureDefMap()
    assert response.metadata["signature_def"].Unpack(signature_map)
    signature = signature_map.signature_def["serving_default"]
    assert signature.method_name == "tensorflow/serving/predict"
    image = signature.inputs["image"]
    assert image.dtype == official.tf.float32.as_datatype_enum
    assert [d.size for d in image.tensor_shape.dim] == [-1, 8, 8, 1]
    assert signature.outputs["classes"].dtype == official.tf.int64.as_datatype_enum
    assert [d.size for d in signature.outputs["probabilities"].tensor_shape.dim] == [-1, 10]


def test_metadata_errors(official, stubs):
    cases = [
        (metadata_request(official, fields=()), grpc.StatusCode.INVALID_ARGUMENT,
         "GetModelMetadataRequest must specify at least one metadata_field"),
        (metadata_request(official, fields=("labels",)), grpc.StatusCode.INVALID_ARGUMENT,
         "Metadata field labels is not supported"),
        (metadata_request(official, name="nope"), grpc.StatusCode.NOT_FOUND,
         "Servable not found for request: Latest(nope)"),
        (metadata_request(official, version=3), grpc.StatusCode.NOT_FOUND,
         "Servable not found for request: Specific(digits, 3)"),
        (official.metadata_pb2.GetModelMetadataRequest(), grpc.StatusCode.INVALID_ARGUMENT,
         "Missing ModelSpec"),
    ]
    for request, code, details in cases:
        assert rpc_error(stubs.prediction.GetModelMetadata, request) == (code, details)


# --- GetModelStatus ---------------------------------------------------------------------


def status_request(official, name, version=None):
    request = official.status_pb2.GetModelStatusRequest()
    request.model_spec.name = name
    if version is not None:
        request.model_spec.version.value = version
    return request


def test_status_reports_available(official, stubs):
    for request in (status_request(official, "inception"),
                    status_request(official, "digits", version=1)):
        response = stubs.model.GetModelStatus(request)
        (status,) = response.model_version_status
        assert status.version == 1
        assert status.state == official.status_pb2.ModelVersionStatus.AVAILABLE
        assert status.HasField("status") and status.status.error_code == 0
        assert status.status.error_message == ""


def test_status_errors(official, stubs):
    assert rpc_error(stubs.model.GetModelStatus, status_request(official, "nope")) == (
        grpc.StatusCode.NOT_FOUND, "Could not find any versions of model nope")
    assert rpc_error(stubs.model.GetModelStatus, status_request(official, "digits", 2)) == (
        grpc.StatusCode.NOT_FOUND, "Could not find version 2 of model digits")
    assert rpc_error(stubs.model.GetModelStatus, official.status_pb2.GetModelStatusRequest()) == (
        grpc.StatusCode.INVALID_ARGUMENT, "Missing ModelSpec")
