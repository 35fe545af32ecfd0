"""A large batch goes to the backend in parts of whole rows (core/parts), and the parts' answers
are joined in request order; a batch within ``max_call_bytes`` is one call, as before.

The upstream here answers from the request it gets (one output row per input row), so a joined
answer can be compared with the answer of one whole call.
"""
import asyncio
import base64
import io

import numpy as np
import pytest
from PIL import Image

from sanic_app.core.call import PredictCall
from sanic_app.core.decode import InputDecoder
from sanic_app.core.limits import Limits
from sanic_app.core.parts import UnbatchedOutput, join_rows, parts
from sanic_app.core.pipeline import ModelPipeline
from sanic_app.core.spec import parse_spec
from sanic_app.core.stages import StageTimings
from sanic_app.errors import InvalidArgument
from sanic_app.protos import serving_pb2

TENSOR_SPEC = {"model": {"name": "m"},
               "inputs": {"x": {"kind": "tensor", "dtype": "float32", "shape": [-1, 4]}}}
ROW = 4 * 4  # bytes of one f32[4] row


class RowSums:
    """An upstream that answers y[i] = sum of row i of every batched (2-D or more) input, or
    with an output that has no batch dimension."""

    def __init__(self, unbatched=False):
        self.unbatched = unbatched
        self.rows, self.timeouts = [], []

    async def predict(self, request: bytes, timeout: float) -> bytes:
        req = serving_pb2.PredictRequest.FromString(request)
        sums = None
        for tensor in req.inputs.values():
            shape = [d.size for d in tensor.tensor_shape.dim]
            if len(shape) < 2:
                continue
            arr = np.frombuffer(tensor.tensor_content, np.float32).reshape(shape)
            row_sums = arr.reshape(shape[0], -1).sum(axis=1)
            sums = row_sums if sums is None else sums + row_sums
        self.rows.append(len(sums))
        self.timeouts.append(timeout)
        out = np.float32([sums.sum()]) if self.unbatched else sums.astype(np.float32)[:, None]
        response = serving_pb2.PredictResponse()
        t = response.outputs["y"]
        t.dtype = 1
        for d in out.shape:
            t.tensor_shape.dim.add(size=d)
        t.tensor_content = out.tobytes()
        return response.SerializeToString()


def pipeline(spec, max_call_bytes, upstream=None, **limits):
    upstream = upstream or RowSums()
    options = Limits(max_batch=64, max_image_pixels=10_000, max_call_bytes=max_call_bytes, **limits)
    return ModelPipeline(parse_spec(spec, "t.json"), upstream, deadline_s=2.0, limits=options), upstream


def predict(pipe, call):
    timings = StageTimings()
    return asyncio.run(pipe.predict(call, timings)), timings


def rows_call(n):
    return PredictCall("m", {None: [[i, i + 1, i + 2, i + 3] for i in range(n)]}, batch_size=n)


def test_a_batch_within_the_budget_is_one_call_and_one_byte_more_is_two():
    pipe, upstream = pipeline(TENSOR_SPEC, max_call_bytes=4 * ROW)
    _, timings = predict(pipe, rows_call(4))
    assert upstream.rows == [4] and timings.backend_calls == 1
    pipe, upstream = pipeline(TENSOR_SPEC, max_call_bytes=4 * ROW - 1)
    _, timings = predict(pipe, rows_call(4))
    assert upstream.rows == [2, 2] and timings.backend_calls == 2


def test_parts_answer_as_one_call_does_in_request_order():
    whole, _ = predict(pipeline(TENSOR_SPEC, max_call_bytes=1 << 20)[0], rows_call(11))
    pipe, upstream = pipeline(TENSOR_SPEC, max_call_bytes=3 * ROW)
    split, timings = predict(pipe, rows_call(11))
    assert upstream.rows == [3, 3, 3, 2]
    assert split["y"].tolist() == whole["y"].tolist() == [[4 * i + 6] for i in range(11)]
    assert timings.batch_size == 11 and timings.backend_calls == 4


def test_a_row_larger_than_the_budget_goes_alone():
    pipe, upstream = pipeline(TENSOR_SPEC, max_call_bytes=1)
    predict(pipe, rows_call(3))
    assert upstream.rows == [1, 1, 1]


def test_the_parts_share_one_deadline():
    pipe, upstream = pipeline(TENSOR_SPEC, max_call_bytes=ROW)
    predict(pipe, rows_call(3))
    first, second, third = upstream.timeouts
    assert 2.0 >= first > second > third > 1.0


def test_an_output_without_a_row_per_instance_refuses_the_split_batch():
    pipe, _ = pipeline(TENSOR_SPEC, max_call_bytes=2 * ROW, upstream=RowSums(unbatched=True))
    with pytest.raises(UnbatchedOutput, match=r"output 'y' of a part of 2 rows came back with shape \[1\]") as err:
        predict(pipe, rows_call(4))
    assert err.value.status == 400
    # the same model answers a batch that fits one call
    out, _ = predict(pipe, rows_call(2))
    assert out["y"].shape == (1,)


def test_inputs_without_a_batch_dimension_are_never_split():
    spec = {"model": {"name": "m"},
            "inputs": {"x": {"kind": "tensor", "dtype": "float32", "shape": [-1, 4]},
                       "scale": {"kind": "tensor", "dtype": "float32", "shape": [4]}}}
    pipe, upstream = pipeline(spec, max_call_bytes=ROW)
    call = PredictCall("m", {"x": [[1, 2, 3, 4]] * 5, "scale": [1, 1, 1, 1]}, row=False)
    predict(pipe, call)
    assert upstream.rows == [5]


def png(value: int) -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.full((3, 3), value, np.uint8), "L").save(out, format="PNG")
    return out.getvalue()


IMAGE_SPEC = {"model": {"name": "m"}, "inputs": {"img": {
    "kind": "image", "dtype": "float32",
    "image": {"height": 2, "width": 2, "color": "grayscale", "resize": "nearest", "scale": 1.0, "mean": [0]}}}}
IMAGE_ROW = 2 * 2 * 4


def image_call(values, bad=None):
    items = [{"b64": base64.b64encode(png(v)).decode()} for v in values]
    if bad is not None:
        items[bad] = {"b64": base64.b64encode(b"not an image").decode()}
    return PredictCall("m", {None: items}, batch_size=len(items))


def test_images_are_decoded_part_by_part_with_the_same_answer():
    values = [10, 20, 30, 40, 50]
    whole, _ = predict(pipeline(IMAGE_SPEC, max_call_bytes=1 << 20)[0], image_call(values))
    pipe, upstream = pipeline(IMAGE_SPEC, max_call_bytes=2 * IMAGE_ROW)
    split, _ = predict(pipe, image_call(values))
    assert upstream.rows == [2, 2, 1]
    assert split["y"].ravel().tolist() == whole["y"].ravel().tolist() == [4.0 * v for v in values]


def test_a_bad_image_in_a_later_part_names_its_instance():
    pipe, upstream = pipeline(IMAGE_SPEC, max_call_bytes=2 * IMAGE_ROW)
    with pytest.raises(InvalidArgument, match="instance 3, input 'img': not a decodable image"):
        predict(pipe, image_call([1, 2, 3, 4, 5], bad=3))
    assert upstream.rows == [2]  # the first part went out; the second failed to decode


def test_rows_know_their_bytes_and_parts_cover_every_row_once():
    decoder = InputDecoder(parse_spec(IMAGE_SPEC, "t.json"), Limits())
    rows = decoder.prepare(image_call([1] * 7))
    assert rows.row_bytes() == IMAGE_ROW
    spans = parts(rows, 3 * IMAGE_ROW)
    assert spans == [(0, 3), (3, 5), (5, 7)]  # as few parts as fit, within a row of each other
    assert parts(rows, 7 * IMAGE_ROW) == [(0, 7)]


def test_join_rows_refuses_a_missing_output():
    with pytest.raises(UnbatchedOutput, match="output 'y' of a part of 1 rows came back with missing"):
        join_rows([{"y": np.zeros((1, 2))}, {}], [(0, 1), (1, 2)])


class Gated(RowSums):
    """Holds each call until the part after it has been built (or forever with ``hold``)."""

    def __init__(self, pipe_log, hold=False):
        super().__init__()
        self.log, self.hold, self.cancelled = pipe_log, hold, 0

    async def predict(self, request: bytes, timeout: float) -> bytes:
        n = len(self.rows)
        self.log.append(f"sent {n}")
        try:
            if self.hold:
                await asyncio.Event().wait()
            # a pipeline that built the next part only after this answer would time out here
            await asyncio.wait_for(self._next_built(n), timeout=5.0)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        self.log.append(f"answered {n}")
        return await super().predict(request, timeout)

    async def _next_built(self, n):
        while f"built {n + 1}" not in self.log and n + 1 < self.parts:
            await asyncio.sleep(0.001)


def logging_builds(pipe, log):
    build = pipe._build

    def logged(rows, lo, hi, call, timings):
        request = build(rows, lo, hi, call, timings)
        log.append(f"built {len([x for x in log if x.startswith('built')])}")
        return request

    pipe._build = logged


def test_the_next_part_is_built_while_the_previous_one_is_at_the_backend():
    log = []
    upstream = Gated(log)
    upstream.parts = 3
    pipe, _ = pipeline(TENSOR_SPEC, max_call_bytes=2 * ROW, upstream=upstream)
    logging_builds(pipe, log)
    out, timings = predict(pipe, rows_call(6))
    assert out["y"].ravel().tolist() == [4 * i + 6 for i in range(6)]
    # each part was built before the part ahead of it was answered (the builds run on a thread,
    # so where "built k + 1" falls against "sent k" is up to the scheduler)
    for k in range(2):
        assert log.index(f"built {k + 1}") < log.index(f"answered {k}")
    assert [x for x in log if x.startswith("answered")] == ["answered 0", "answered 1", "answered 2"]
    assert upstream.rows == [2, 2, 2] and timings.backend_calls == 3


def test_a_failing_part_cancels_the_call_in_flight():
    log = []
    upstream = Gated(log, hold=True)
    upstream.parts = 3
    pipe, _ = pipeline(IMAGE_SPEC, max_call_bytes=2 * IMAGE_ROW, upstream=upstream)
    with pytest.raises(InvalidArgument, match="instance 2, input 'img'"):
        predict(pipe, image_call([1, 2, 3, 4, 5], bad=2))
    assert log == ["sent 0"] and upstream.cancelled == 1
