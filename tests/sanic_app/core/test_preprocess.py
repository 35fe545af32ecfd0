"""The preprocess stage: decoded pixels become normalised tensor bytes, timed apart from pack."""
import numpy as np

from sanic_app.core import preprocess
from sanic_app.core.spec import ImageSpec


def test_image_batch_shapes_and_normalises():
    spec = ImageSpec(height=2, width=2, color="rgb", layout="NCHW", scale=2.0, mean=(1.0, 2.0, 3.0), std=(2.0,))
    pixels = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
    writer = preprocess.image_writer([pixels], spec.preprocess_params("float32"))
    assert tuple(writer.shape) == (1, 3, 2, 2) and np.dtype(writer.dtype) == np.float32
    buf = bytearray(12 * 4)
    writer.write_into(memoryview(buf))
    got = np.frombuffer(buf, np.float32).reshape(1, 3, 2, 2)
    want = ((pixels * 2.0 - np.array([1.0, 2.0, 3.0])) / 2.0).transpose(2, 0, 1)
    np.testing.assert_allclose(got[0], want, rtol=1e-6)


def test_timed_writer_counts_the_kernel_and_passes_arrays_through():
    spec = ImageSpec(height=2, width=2)
    tensors = {"img": preprocess.image_writer([np.zeros((4, 4, 3), np.uint8)], spec.preprocess_params("float32")),
               "x": np.zeros(3, np.float32)}
    timed = preprocess.timed(tensors)
    assert timed["x"] is tensors["x"] and isinstance(timed["img"], preprocess.TimedWriter)
    assert preprocess.kernel_seconds(timed) == 0.0
    timed["img"].write_into(memoryview(bytearray(2 * 2 * 3 * 4)))
    assert preprocess.kernel_seconds(timed) > 0.0
