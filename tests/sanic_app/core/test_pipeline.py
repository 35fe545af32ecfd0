"""The transport-free core: what goes to TF Serving, what comes back, stage timings.

The upstream is a stub here (the pipeline never sees the transport); e2e tests use real gRPC.
"""
import asyncio
import base64
import io
import json
import time

import numpy as np
import pytest
from PIL import Image

from sanic_app.errors import InvalidArgument, PayloadTooLarge
from sanic_app.core.call import PredictCall
from sanic_app.core.limits import Limits
from sanic_app.core.pipeline import ModelPipeline
from sanic_app.core.stages import STAGES, StageTimings
from sanic_app.http.tfserving_json import predict_body
from sanic_app.protos import serving_pb2
from sanic_app.core.spec import parse_spec


class StubUpstream:
    """Records the request bytes; answers with the given output arrays as a PredictResponse."""

    def __init__(self, outputs):
        self.outputs = outputs
        self.requests = []

    async def predict(self, request: bytes, timeout: float) -> bytes:
        self.requests.append(serving_pb2.PredictRequest.FromString(request))
        response = serving_pb2.PredictResponse()
        for name, arr in self.outputs.items():
            t = response.outputs[name]
            t.dtype = {np.float32: 1, np.int64: 9, np.object_: 7}[arr.dtype.type]
            for d in arr.shape:
                t.tensor_shape.dim.add(size=d)
            if arr.dtype == object:
                t.string_val.extend(arr.ravel().tolist())
            else:
                t.tensor_content = arr.tobytes()
        response.model_spec.name = "m"
        return response.SerializeToString()


SPEC = {
    "model": {"name": "m", "signature_name": "sig", "version": 3},
    "inputs": {"x": {"kind": "tensor", "dtype": "float32", "shape": [-1, 2]}},
}


def make(spec=SPEC, outputs=None, **kw):
    outputs = outputs if outputs is not None else {"y": np.array([[1, 2], [3, 4]], np.float32)}
    upstream = StubUpstream(outputs)
    options = dict(deadline_s=1.0, limits=Limits(max_batch=8, max_image_pixels=10_000))
    options.update(kw)
    return ModelPipeline(parse_spec(spec, "t.json"), upstream, **options), upstream


def run(pipeline, call):
    """The core's outputs, rendered as the TF Serving adapter would (timed as serialize)."""
    timings = StageTimings()
    outputs = asyncio.run(pipeline.predict(call, timings))
    start = time.perf_counter()
    body = predict_body(outputs, call.row)
    timings.serialize += time.perf_counter() - start
    return json.loads(body), timings


def test_tensor_input_goes_out_typed_and_shaped():
    pipeline, upstream = make()
    body, timings = run(pipeline, PredictCall("m", {None: [[1, 2], [3, 4]]}, row=True, batch_size=2))
    (req,) = upstream.requests
    assert req.model_spec.name == "m" and req.model_spec.signature_name == "sig"
    assert req.model_spec.version.value == 3
    x = req.inputs["x"]
    assert x.dtype == 1 and [d.size for d in x.tensor_shape.dim] == [2, 2]
    assert np.frombuffer(x.tensor_content, np.float32).tolist() == [1, 2, 3, 4]
    assert body == {"predictions": [[1, 2], [3, 4]]}
    assert timings.batch_size == 2
    for stage in ("decode", "pack", "backend", "unpack", "postprocess", "serialize"):
        assert getattr(timings, stage) > 0, stage
    assert set(dict(timings.items())) == set(STAGES)


def test_url_version_or_label_overrides_the_spec_and_signature_from_request():
    pipeline, upstream = make()
    run(pipeline, PredictCall("m", {"x": [[1, 2]]}, label="canary", signature_name="other", batch_size=1))
    spec = upstream.requests[0].model_spec
    assert spec.version_label == "canary" and not spec.HasField("version") and spec.signature_name == "other"


def test_postprocess_and_output_filter_from_the_spec():
    spec = dict(SPEC, outputs={"y": {"postprocess": "topk", "k": 1}, "z": {"postprocess": "softmax"}})
    outs = {"y": np.array([[0.1, 0.9], [0.8, 0.2]], np.float32), "z": np.array([[0.0, 0.0]] * 2, np.float32)}
    pipeline, upstream = make(spec, outs)
    body, _ = run(pipeline, PredictCall("m", {"x": [[1, 2], [3, 4]]}, batch_size=2))
    assert list(upstream.requests[0].output_filter) == ["y", "z"]
    first, second = body["predictions"]
    assert first["y"] == [{"class": 1, "score": pytest.approx(0.9)}] and first["z"] == [0.5, 0.5]
    assert second["y"][0]["class"] == 0


def test_a_call_may_shorten_the_deadline_narrow_the_outputs_and_skip_postprocessing():
    spec = dict(SPEC, outputs={"y": {"postprocess": "topk", "k": 1}, "z": {"postprocess": "softmax"}})
    outs = {"y": np.array([[0.1, 0.9]], np.float32)}
    pipeline, upstream = make(spec, outs, deadline_s=2.0)
    timeouts = []
    answer = upstream.predict
    upstream.predict = lambda request, timeout: timeouts.append(timeout) or answer(request, timeout)
    for deadline in (0.25, 9.0, None):
        call = PredictCall("m", {"x": np.array([[1, 2]], np.float32)}, row=False, deadline_s=deadline,
                           outputs=("y",), postprocess=False)
        outputs = asyncio.run(pipeline.predict(call, StageTimings()))
        np.testing.assert_array_equal(outputs["y"], outs["y"])  # raw scores: the adapter shapes them
    assert timeouts == [0.25, 2.0, 2.0]  # the client's deadline only when shorter than the model's
    assert all(list(r.output_filter) == ["y"] for r in upstream.requests)


@pytest.mark.parametrize("values,error,words", [
    ({None: [[1, 2, 3]]}, InvalidArgument, ["input 'x'", "expected shape [-1, 2]", "got [1, 3]"]),
    ({None: [["a", "b"]]}, InvalidArgument, ["input 'x'", "expected float32", "strings"]),
    ({None: [[1, 2], [3]]}, InvalidArgument, ["input 'x'", "regular tensor"]),
    ({"y": [[1, 2]]}, InvalidArgument, ["unknown input 'y'", "x"]),
    ({None: [[1, 2]] * 9}, PayloadTooLarge, ["9", "limit of 8"]),
])
def test_bad_values(values, error, words):
    pipeline, upstream = make()
    with pytest.raises(error) as info:
        run(pipeline, PredictCall("m", values, batch_size=len(next(iter(values.values())))))
    for word in words:
        assert word in info.value.message
    assert upstream.requests == []


def test_integer_inputs_refuse_floats_and_overflow():
    spec = {"model": {"name": "m"}, "inputs": {"n": {"kind": "tensor", "dtype": "int32"}}}
    pipeline, upstream = make(spec)
    with pytest.raises(InvalidArgument, match="expected int32 values, got floating-point"):
        run(pipeline, PredictCall("m", {None: [1.5]}, batch_size=1))
    with pytest.raises(InvalidArgument, match="out of range for int32"):
        run(pipeline, PredictCall("m", {None: [2**40]}, batch_size=1))
    run(pipeline, PredictCall("m", {None: [7, -7]}, batch_size=2))
    assert np.frombuffer(upstream.requests[0].inputs["n"].tensor_content, np.int32).tolist() == [7, -7]


def test_several_inputs_must_be_named_and_complete():
    spec = {"model": {"name": "m"}, "inputs": {"a": {"kind": "tensor", "dtype": "float32"},
                                               "b": {"kind": "bytes"}}}
    pipeline, upstream = make(spec)
    with pytest.raises(InvalidArgument, match="takes 2 inputs"):
        run(pipeline, PredictCall("m", {None: [1]}, batch_size=1))
    with pytest.raises(InvalidArgument, match="missing input 'b'"):
        run(pipeline, PredictCall("m", {"a": [1]}, batch_size=1))
    run(pipeline, PredictCall("m", {"a": [1.0, 2.0], "b": [{"b64": "aGk="}, "text"]}, batch_size=2))
    assert list(upstream.requests[0].inputs["b"].string_val) == [b"hi", b"text"]


def png(array) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, format="PNG")
    return out.getvalue()


IMAGE_SPEC = {"model": {"name": "m"}, "inputs": {"img": {
    "kind": "image", "dtype": "float32",
    "image": {"height": 2, "width": 2, "color": "grayscale", "resize": "nearest", "scale": 0.5, "mean": [1]}}}}


def test_images_are_decoded_preprocessed_and_timed():
    pipeline, upstream = make(IMAGE_SPEC)
    pixels = np.array([[0, 10], [20, 30]], np.uint8)
    as_b64 = {"b64": base64.b64encode(png(pixels)).decode()}
    body, timings = run(pipeline, PredictCall("m", {None: [png(pixels), as_b64]}, batch_size=2))
    tensor = upstream.requests[0].inputs["img"]
    assert [d.size for d in tensor.tensor_shape.dim] == [2, 2, 2, 1]
    got = np.frombuffer(tensor.tensor_content, np.float32).reshape(2, 2, 2)
    np.testing.assert_allclose(got[0], pixels * 0.5 - 1)
    np.testing.assert_allclose(got[1], got[0])
    assert timings.decode > 0 and timings.preprocess > 0


def test_image_errors_name_the_instance():
    pipeline, _ = make(IMAGE_SPEC)
    good = png(np.zeros((2, 2), np.uint8))
    with pytest.raises(InvalidArgument, match="instance 1, input 'img': not a decodable image"):
        run(pipeline, PredictCall("m", {None: [good, b"GIF89a-but-not-really"]}, batch_size=2))
    with pytest.raises(InvalidArgument, match="instance 0, input 'img': invalid base64"):
        run(pipeline, PredictCall("m", {None: [{"b64": "@@"}]}, batch_size=1))
    with pytest.raises(PayloadTooLarge, match="pixels"):
        run(pipeline, PredictCall("m", {None: [png(np.zeros((200, 200), np.uint8))]}, batch_size=1))


def test_decoding_on_a_thread_pool_gives_the_same_tensor():
    from concurrent.futures import ThreadPoolExecutor

    pixels = np.array([[0, 10], [20, 30]], np.uint8)
    inline, inline_upstream = make(IMAGE_SPEC)
    run(inline, PredictCall("m", {None: [png(pixels)]}, batch_size=1))
    with ThreadPoolExecutor(2) as pool:
        pooled, pooled_upstream = make(IMAGE_SPEC, executor=pool)
        run(pooled, PredictCall("m", {None: [png(pixels)]}, batch_size=1))
        with pytest.raises(InvalidArgument, match="not a decodable image"):
            run(pooled, PredictCall("m", {None: [b"nope"]}, batch_size=1))
    assert pooled_upstream.requests[0].inputs["img"] == inline_upstream.requests[0].inputs["img"]


def test_preprocess_plugin_builds_the_tensor():
    import dataclasses

    def lengths(values, spec):
        return np.array([[len(v), 0] for v in values], np.float32)

    pipeline, upstream = make()
    spec = pipeline.config.inputs["x"]
    pipeline.config.inputs["x"] = dataclasses.replace(spec, plugin=lengths)
    run(pipeline, PredictCall("m", {None: ["abc", "de"]}, batch_size=2))
    sent = upstream.requests[0].inputs["x"]
    assert np.frombuffer(sent.tensor_content, np.float32).tolist() == [3, 0, 2, 0]
    pipeline.config.inputs["x"] = dataclasses.replace(spec, plugin=lambda values, s: 1 / 0)
    with pytest.raises(InvalidArgument, match="pre-processing plug-in failed"):
        run(pipeline, PredictCall("m", {None: ["abc"]}, batch_size=1))
