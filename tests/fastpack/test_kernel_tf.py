"""The kernel against TensorFlow's own tf.image.resize (test-only reference), both implementations.

Required: within 1e-4 absolute on float32. The tables repeat TF's float32 arithmetic, so in
practice the outputs are identical; the tolerance is what the contract promises.
"""
import os

import numpy as np
import pytest
from PIL import Image

from fastpack import PreprocessParams

pytestmark = pytest.mark.tensorflow

METHODS = [("bilinear", False), ("bilinear", True), ("nearest", False), ("area", False)]
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return pytest.importorskip("tensorflow")


def _tf_resize(tf, img, size, method, antialias):
    out = tf.image.resize(img[None], size, method=method, antialias=antialias)
    return out.numpy()[0].astype(np.float32)


def _cases(seed, count):
    """Random (source shape, target size): up- and down-scaling, odd sizes, 1 and 3 channels."""
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(count):
        h, w = (int(v) for v in rng.integers(1, 97, 2))
        oh, ow = (int(v) for v in rng.integers(1, 97, 2))
        cases.append(((h, w, 1 + 2 * (i % 2)), (oh, ow)))
    # fixed shapes a gateway sees: big downscales and one big upscale
    cases += [((375, 500, 3), (299, 299)), ((480, 640, 3), (61, 47)), ((768, 1024, 1), (224, 224)),
              ((8, 8, 3), (299, 301)), ((1, 1, 3), (5, 4)), ((300, 2, 1), (7, 9))]
    return cases


def _content(rng, shape):
    """Noise on top of gradients, so both smooth regions and edges are exercised."""
    h, w, c = shape
    ramp = (np.add.outer(np.arange(h), np.arange(w)) * 255 // max(h + w - 2, 1))[..., None]
    noise = rng.integers(-60, 61, shape)
    return np.clip(ramp + noise, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("method, antialias", METHODS)
def test_matches_tf_image_resize(tf, kernel, method, antialias):
    rng = np.random.default_rng(100)
    worst = 0.0
    for shape, size in _cases(seed=len(method) + antialias, count=24):
        img = _content(rng, shape)
        color = "rgb" if shape[2] == 3 else "grayscale"
        params = PreprocessParams(*size, method=method, antialias=antialias, color=color)
        got = kernel.preprocess([img], params)[0]
        want = _tf_resize(tf, img, size, method, antialias)
        assert got.shape == want.shape
        diff = float(np.abs(got - want).max())
        assert diff <= TOLERANCE, (shape, size, diff)
        worst = max(worst, diff)
    print(f"{method} antialias={antialias}: max |kernel - tf| = {worst}")


@pytest.mark.parametrize("method, antialias", METHODS)
def test_matches_tf_after_normalisation_and_layout(tf, kernel, method, antialias):
    rng = np.random.default_rng(200)
    mean, std, scale = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225]), 1 / 255
    for shape, size in [((61, 83, 3), (40, 29)), ((33, 17, 3), (70, 51))]:
        img = _content(rng, shape)
        resized = _tf_resize(tf, img, size, method, antialias).astype(np.float64)
        want = (resized * scale - mean) / std
        for layout in ("NHWC", "NCHW"):
            params = PreprocessParams(*size, method=method, antialias=antialias, scale=scale,
                                      mean=tuple(mean), std=tuple(std), layout=layout)
            got = kernel.preprocess([img], params)[0]
            if layout == "NCHW":
                got = got.transpose(1, 2, 0)
            np.testing.assert_allclose(got, want, rtol=0, atol=TOLERANCE)


def test_grayscale_is_tf_on_pillow_luma(tf, kernel):
    rng = np.random.default_rng(300)
    img = _content(rng, (45, 38, 3))
    luma = np.asarray(Image.fromarray(img).convert("L"))[..., None]
    for method, antialias in METHODS:
        params = PreprocessParams(19, 23, method=method, antialias=antialias, color="grayscale")
        got = kernel.preprocess([img], params)[0]
        want = _tf_resize(tf, luma, (19, 23), method, antialias)
        np.testing.assert_allclose(got, want, rtol=0, atol=TOLERANCE)
