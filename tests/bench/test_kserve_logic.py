"""The KServe peer's per-request logic, without KServe: what its preprocess, predict (tensor
packing) and postprocess do, checked against Pillow, numpy and TensorFlow's own converters."""
import base64
import io
import json

import numpy as np
import pytest
from PIL import Image

from bench.baselines import kserve_logic as logic
from sanic_app.protos import serving_pb2, tensor_pb2

SPEC = {"model": {"name": "m", "signature_name": "sig"}, "target": {"deadline_ms": 2500},
        "inputs": {"images": {"kind": "image", "dtype": "float32", "shape": [-1, 6, 4, 3],
                              "image": {"height": 6, "width": 4, "color": "rgb", "resize": "bilinear",
                                        "scale": 0.5, "mean": [1.0], "std": [2.0]}}},
        "outputs": {"scores": {"postprocess": "topk", "k": 2}}}


@pytest.fixture()
def cfg(tmp_path):
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(SPEC))
    return logic.ModelConfig.from_spec(path)


def png_b64(pixels: np.ndarray) -> str:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG")
    return base64.b64encode(out.getvalue()).decode()


def test_config_reads_what_a_transformer_hard_codes(cfg):
    assert (cfg.model, cfg.signature, cfg.input_name, cfg.output_name) == ("m", "sig", "images", "scores")
    assert (cfg.height, cfg.width, cfg.top_k, cfg.deadline_s) == (6, 4, 2, 2.5)


def test_v1_batch_decodes_resizes_and_scales_both_instance_forms(cfg):
    rng = np.random.default_rng(1)
    a, b = (rng.integers(0, 256, (12, 8, 3), dtype=np.uint8) for _ in range(2))
    batch = logic.batch_from_v1({"instances": [{"b64": png_b64(a)},
                                               {"images": {"b64": png_b64(b)}}]}, cfg)
    assert batch.shape == (2, 6, 4, 3) and batch.dtype == np.float32
    want = np.asarray(Image.fromarray(b).resize((4, 6), Image.BILINEAR), np.float32)
    np.testing.assert_allclose(batch[1], (want * 0.5 - 1.0) / 2.0, rtol=1e-6)


@pytest.mark.parametrize("payload", [
    {}, {"instances": []}, {"instances": "x"}, {"instances": [[1, 2]]},
    {"instances": [{"b64": "!!not base64!!"}]},
    {"instances": [{"b64": base64.b64encode(b"not an image").decode()}]},
])
def test_bad_bodies_are_bad_requests(cfg, payload):
    with pytest.raises(logic.BadRequest):
        logic.batch_from_v1(payload, cfg)


def test_tensor_proto_round_trips_through_the_wire():
    arr = np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 7
    req = serving_pb2.PredictRequest()
    req.inputs["x"].CopyFrom(logic.tensor_proto(arr, tensor_pb2.TensorProto))
    back = serving_pb2.PredictRequest.FromString(req.SerializeToString()).inputs["x"]
    assert back.dtype == 1 and [d.size for d in back.tensor_shape.dim] == [2, 3, 4]
    np.testing.assert_array_equal(logic.ndarray(back), arr)


def test_ndarray_reads_typed_values_and_the_compact_form():
    proto = tensor_pb2.TensorProto(dtype=1, float_val=[0.5, 1.5])
    proto.tensor_shape.dim.add(size=1)
    proto.tensor_shape.dim.add(size=2)
    np.testing.assert_array_equal(logic.ndarray(proto), [[0.5, 1.5]])
    compact = tensor_pb2.TensorProto(dtype=3, int_val=[7])
    compact.tensor_shape.dim.add(size=3)
    np.testing.assert_array_equal(logic.ndarray(compact), [7, 7, 7])
    with pytest.raises(ValueError):
        logic.ndarray(tensor_pb2.TensorProto(dtype=7))  # DT_STRING


def test_top_k_is_softmax_then_best_first():
    rows = logic.top_k(np.array([[0.0, 2.0, 1.0], [3.0, 0.0, 0.0]], np.float32), 2)
    assert [[c["class"] for c in r] for r in rows] == [[1, 2], [0, 1]]
    e = np.exp([0.0, 2.0, 1.0])
    assert rows[0][0]["score"] == pytest.approx(e[1] / e.sum(), abs=1e-5)


@pytest.mark.tensorflow
def test_hand_built_proto_is_what_tf_make_tensor_proto_sends():
    tf = pytest.importorskip("tensorflow")
    arr = np.random.default_rng(2).standard_normal((1, 5, 4, 3)).astype(np.float32)
    theirs = tf.make_tensor_proto(arr, shape=arr.shape).SerializeToString()
    assert logic.tensor_proto(arr, tensor_pb2.TensorProto).SerializeToString() == theirs
