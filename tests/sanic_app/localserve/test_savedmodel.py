"""A Keras model exported as a SavedModel answers through the backend as it does in TensorFlow."""
import numpy as np
import pytest

from sanic_app.localserve.models.savedmodel import latest_version_dir
from sanic_app.localserve.process import LocalServe, LocalServeError

pytestmark = [pytest.mark.tensorflow, pytest.mark.slow]


def _keras_model(tf, seed):
    tf.keras.utils.set_random_seed(seed)
    inputs = tf.keras.Input(shape=(4,), name="features")
    hidden = tf.keras.layers.Dense(8, activation="relu")(inputs)
    outputs = tf.keras.layers.Dense(3, activation="softmax", name="scores")(hidden)
    return tf.keras.Model(inputs, outputs)


@pytest.fixture(scope="module")
def exported(tmp_path_factory, official):
    """base/1 and base/2 hold different models; the backend must serve version 2."""
    base = tmp_path_factory.mktemp("keras") / "base"
    models = {}
    for version, seed in ((1, 1), (2, 2)):
        model = _keras_model(official.tf, seed)
        model.export(str(base / str(version)), verbose=False)
        models[version] = model
    (base / "not-a-version").mkdir()
    return base, models


@pytest.fixture(scope="module")
def backend(exported):
    with LocalServe("--model_name", "keras", "--model_base_path", str(exported[0]),
                    startup_timeout=120) as served:
        yield served


def _only_signature_input_output(official, stubs):
    request = official.metadata_pb2.GetModelMetadataRequest()
    request.model_spec.name = "keras"
    request.metadata_field.append("signature_def")
    response = stubs.prediction.GetModelMetadata(request, timeout=30)
    signature_map = official.metadata_pb2.SignatureDefMap()
    response.metadata["signature_def"].Unpack(signature_map)
    return response, signature_map


def test_latest_version_dir_picks_the_highest_number(exported):
    assert latest_version_dir(exported[0])[0] == 2


def test_outputs_match_tensorflow(official, backend, stubs_for, exported):
    _, models = exported
    stubs = stubs_for(backend)
    _, signature_map = _only_signature_input_output(official, stubs)
    signature = signature_map.signature_def["serving_default"]
    (input_alias,) = signature.inputs
    (output_alias,) = signature.outputs
    features = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    request = official.predict_pb2.PredictRequest()
    request.model_spec.name = "keras"
    request.inputs[input_alias].CopyFrom(official.tf.make_tensor_proto(features))
    response = stubs.prediction.Predict(request, timeout=30)
    served = official.tf.make_ndarray(response.outputs[output_alias])
    direct = models[2](features).numpy()
    assert response.model_spec.version.value == 2
    np.testing.assert_allclose(served, direct, rtol=1e-6, atol=1e-7)
    assert not np.allclose(served, models[1](features).numpy(), atol=1e-3)


def test_metadata_comes_from_the_saved_model(official, backend, stubs_for, exported):
    stubs = stubs_for(backend)
    response, signature_map = _only_signature_input_output(official, stubs)
    assert response.model_spec.version.value == 2
    loaded = official.tf.saved_model.load(str(exported[0] / "2"))
    function = loaded.signatures["serving_default"]
    signature = signature_map.signature_def["serving_default"]
    (alias, spec), = function.structured_input_signature[1].items()
    info = signature.inputs[alias]
    assert info.dtype == spec.dtype.as_datatype_enum
    assert [d.size for d in info.tensor_shape.dim] == [-1, 4]
    assert set(signature.outputs) == set(function.structured_outputs)


def test_wrong_dtype_is_rejected_before_tensorflow_runs(official, backend, stubs_for):
    import grpc

    stubs = stubs_for(backend)
    _, signature_map = _only_signature_input_output(official, stubs)
    (alias,) = signature_map.signature_def["serving_default"].inputs
    request = official.predict_pb2.PredictRequest()
    request.model_spec.name = "keras"
    request.inputs[alias].CopyFrom(official.tf.make_tensor_proto(np.zeros((1, 4), np.int32)))
    with pytest.raises(grpc.RpcError) as caught:
        stubs.prediction.Predict(request, timeout=30)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details() == "Expects arg[0] to be float but int32 is provided"


def test_a_base_path_without_versions_fails_clearly(tmp_path):
    with pytest.raises(LocalServeError, match="no versions found under base path"):
        LocalServe("--model_base_path", str(tmp_path), startup_timeout=60).start()


def test_signature_defs_read_from_the_wire_match_tensorflows_parse(exported):
    from tensorflow.core.protobuf import saved_model_pb2

    from sanic_app.localserve.models.savedmodel import read_signature_defs

    directory = exported[0] / "2"
    ours = read_signature_defs(directory)
    saved_model = saved_model_pb2.SavedModel()
    saved_model.ParseFromString((directory / "saved_model.pb").read_bytes())
    (meta_graph,) = saved_model.meta_graphs
    theirs = {key: sig.SerializeToString() for key, sig in meta_graph.signature_def.items()}
    assert set(ours) == set(theirs) and "serving_default" in ours
    for key, raw in ours.items():
        parsed = type(meta_graph.signature_def[key])()
        parsed.ParseFromString(raw)
        assert parsed == meta_graph.signature_def[key]
