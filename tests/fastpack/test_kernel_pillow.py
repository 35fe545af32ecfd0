"""Pillow images as kernel sources: the compiled kernel reads Pillow's pixel memory in place
(Arrow export), the twin copies it; both must give exactly the bits of the array path."""
import gc
import itertools
from unittest import mock

import numpy as np
import pytest
from PIL import Image

from fastpack import PreprocessError, PreprocessParams
from tests.fastpack.conftest import load_impl


@pytest.fixture
def compiled():
    return load_impl("fastpack._kernel_c")


def _pillow(rng, h, w, mode):
    img = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    return img if mode == "RGB" else img.convert("L")


def _array(img):
    return np.asarray(img).reshape(img.height, img.width, -1)


GRID = list(itertools.product(
    [("bilinear", False), ("bilinear", True), ("nearest", False), ("area", False), ("area", True),
     ("pillow", False)],
    ["rgb", "bgr", "grayscale"],
    [("NHWC", "float32"), ("NCHW", "float16"), ("NHWC", "uint8")],
))


@pytest.mark.parametrize("mode", ["RGB", "L"])
@pytest.mark.parametrize("method, color, out", GRID)
def test_pillow_source_is_the_array_source_bit_for_bit(kernel, mode, method, color, out):
    rng = np.random.default_rng(3)
    params = PreprocessParams(29, 31, method=method[0], antialias=method[1], color=color,
                              layout=out[0], dtype=out[1], scale=0.5, mean=(1.0,), std=(0.7,))
    images = [_pillow(rng, 37, 53, mode), _pillow(rng, 120, 90, mode), _pillow(rng, 1, 1, mode)]
    got = kernel.preprocess(images, params)
    want = kernel.preprocess([_array(img) for img in images], params)
    assert got.dtype == want.dtype and got.tobytes() == want.tobytes()


@pytest.mark.parametrize("mode, step", [("RGB", 4), ("L", 1)])
def test_compiled_kernel_borrows_pillow_memory(compiled, mode, step):
    img = _pillow(np.random.default_rng(4), 6, 9, mode)
    batch = compiled.ImageBatch([img], PreprocessParams(4, 4))
    (source,) = batch._sources
    assert isinstance(source, compiled.PillowPixels)
    assert source.shape == (6, 9, 3 if mode == "RGB" else 1) and source.step == step


def test_borrowed_pixels_outlive_the_callers_image(compiled):
    rng = np.random.default_rng(5)
    img = _pillow(rng, 40, 30, "RGB")
    params = PreprocessParams(16, 16)
    want = compiled.preprocess([_array(img)], params)
    batch = compiled.ImageBatch([img], params)
    del img
    gc.collect()
    for _ in range(20):  # churn the allocator where the image's memory would be reused
        _pillow(rng, 40, 30, "RGB").load()
    out = bytearray(batch.nbytes)
    batch.write_into(out)
    assert bytes(out) == want.tobytes()


def test_unexportable_image_is_copied_instead(compiled):
    rng = np.random.default_rng(6)
    img = _pillow(rng, 20, 24, "RGB")
    params = PreprocessParams(8, 8)
    want = compiled.preprocess([_array(img)], params)
    with mock.patch.object(Image.Image, "__arrow_c_array__",
                           side_effect=ValueError("Image rows are not contiguous in memory.")):
        batch = compiled.ImageBatch([img], params)
    assert isinstance(batch._sources[0], np.ndarray)
    out = bytearray(batch.nbytes)
    batch.write_into(out)
    assert bytes(out) == want.tobytes()


@pytest.mark.parametrize("mode", ["RGBA", "P", "1", "I", "CMYK"])
def test_other_pillow_modes_are_refused_clearly(kernel, mode):
    img = Image.new("RGB", (4, 3)).convert(mode)
    with pytest.raises(PreprocessError, match=f"image 1 is a Pillow image of mode '{mode}'"):
        kernel.ImageBatch([Image.new("RGB", (4, 3)), img], PreprocessParams(4, 4))
