"""Between the v2 format and the core: datatypes against the model, images as BYTES, and the
classification extension with a spec's labels."""
import numpy as np
import pytest

from sanic_app.core.spec import ImageSpec, InputSpec, ModelConfig, OutputSpec
from sanic_app.errors import InvalidArgument
from sanic_app.http.v2_format import InferInput, InferRequest, RequestedOutput
from sanic_app.http.v2_infer import classification, output_tensors, predict_call

CONFIG = ModelConfig(
    name="m",
    inputs={"img": InputSpec("img", "image", np.dtype(np.float32), (-1, 8, 8, 1), image=ImageSpec(8, 8, "grayscale")),
            "s": InputSpec("s", "bytes", np.dtype(object), None)},
    outputs={"p": OutputSpec("p", "topk", k=2, labels=("zero", "one", "two")), "q": OutputSpec("q", "softmax")})


def images(*items, shape=None):
    arr = np.array(list(items), dtype=object)
    return InferInput("img", "BYTES", shape or arr.shape, arr.reshape(shape or arr.shape))


def test_images_as_bytes_become_a_batch_for_the_image_pipeline():
    for shape in ((2,), (2, 1)):
        call = predict_call(InferRequest([images(b"a", b"b", shape=shape)], id="x"), CONFIG, "m", 3)
        assert call.values == {"img": [b"a", b"b"]} and not call.row and call.version == 3
        assert call.postprocess is False
    with pytest.raises(InvalidArgument, match=r"shape \[N\] or \[N, 1\]"):
        predict_call(InferRequest([images(b"a", b"b", shape=(1, 2))]), CONFIG, "m", None)


def test_datatypes_must_be_the_models():
    pixels = InferInput("img", "FP64", (1, 8, 8, 1), np.zeros((1, 8, 8, 1)))
    with pytest.raises(InvalidArgument, match="takes FP32 .or BYTES: encoded images., got FP64"):
        predict_call(InferRequest([pixels]), CONFIG, "m", None)
    ok = InferInput("img", "FP32", (1, 8, 8, 1), np.zeros((1, 8, 8, 1), np.float32))
    assert predict_call(InferRequest([ok]), CONFIG, "m", None).values["img"] is ok.value
    with pytest.raises(InvalidArgument, match="takes BYTES, got INT8"):
        predict_call(InferRequest([InferInput("s", "INT8", (1,), np.zeros(1, np.int8))]), CONFIG, "m", None)
    with pytest.raises(InvalidArgument, match="unknown output"):
        predict_call(InferRequest([ok], outputs=[RequestedOutput("nope")]), CONFIG, "m", None)


def test_request_parameters_reach_the_call():
    request = InferRequest([images(b"a")], outputs=[RequestedOutput("p")], timeout_s=0.5, signature_name="other")
    call = predict_call(request, CONFIG, "m", None)
    assert (call.deadline_s, call.signature_name, call.outputs) == (0.5, "other", ("p",))


def test_classification_strings_with_and_without_labels():
    scores = np.array([[0.1, 0.7, 0.2], [0.5, 0.1, 0.4]], np.float32)
    got = classification(scores, 2, ("zero", "one", "two"))
    assert got.shape == (2, 2)
    assert got.tolist() == [[b"0.7:1:one", b"0.2:2:two"], [b"0.5:0:zero", b"0.4:2:two"]]
    assert classification(scores[0], 5, None).tolist() == [b"0.7:1", b"0.2:2", b"0.1:0"]  # k past the classes
    with pytest.raises(InvalidArgument, match="class axis"):
        classification(np.array([b"x"], dtype=object), 1, None)


def test_outputs_are_raw_unless_asked_and_softmax_still_applies():
    raw = {"p": np.array([[1.0, 3.0, 2.0]], np.float32), "q": np.array([[0.0, 0.0]], np.float32)}
    request = InferRequest([images(b"a")], binary_output=True)
    p, q = output_tensors(request, CONFIG, raw)  # no outputs asked: all, by name, request's binary default
    np.testing.assert_array_equal(p.value, raw["p"])  # a spec's top-k is the classification extension's
    np.testing.assert_allclose(q.value, [[0.5, 0.5]])
    assert p.binary and q.binary
    request = InferRequest([images(b"a")], outputs=[RequestedOutput("p", binary=False, classification=1)],
                           binary_output=True)
    (p,) = output_tensors(request, CONFIG, raw)
    assert p.value.tolist() == [[b"3.0:1:one"]] and not p.binary


def test_binary_tensors_reach_the_codec_as_views_on_the_body():
    """The one copy: body bytes -> (numpy views) -> the codec writes them into the request."""
    import json

    from sanic_app.core.decode import InputDecoder
    from sanic_app.core.limits import Limits
    from sanic_app.http.v2_format import parse_infer

    pixels = np.arange(64, dtype=np.float32).reshape(1, 8, 8, 1)
    head = json.dumps({"inputs": [{"name": "img", "datatype": "FP32", "shape": [1, 8, 8, 1],
                                   "parameters": {"binary_data_size": pixels.nbytes}}]}).encode()
    body = head + pixels.tobytes()
    call = predict_call(parse_infer(body, str(len(head)), Limits()), CONFIG, "m", None)
    config = ModelConfig(name="m", inputs={"img": CONFIG.inputs["img"]})
    tensor = InputDecoder(config, Limits())(call)["img"]
    np.testing.assert_array_equal(tensor, pixels)
    assert np.shares_memory(tensor, np.frombuffer(body, np.uint8))
