"""The gateway's decoders against TensorFlow's own (test-only oracle), on a generated corpus.

- "tensorflow" equals ``tf.io.decode_image(data, channels=C, expand_animations=False)`` exactly,
  for every file TF decodes, and refuses what TF refuses among JPEG/PNG files;
- "accurate" equals ``decode_jpeg(dct_method="INTEGER_ACCURATE")``;
- ``reduced_dct`` equals ``decode_jpeg(ratio=N)`` for the N Pillow's draft would pick;
- the whole tensor (decode -> kernel resize -> normalise) equals decode -> tf.image.resize ->
  the same float32 arithmetic in TF, bit for bit, for each TF resize method.
The few pairs TF refuses but the gateway answers are listed, with the rule it uses, in README
("Decoding").
"""
import os

import numpy as np
import pytest

import fastpack
from sanic_app.core import imaging
from sanic_app.errors import InvalidArgument
from sanic_app.core.spec import ImageSpec
from tests.decoding_corpus import corpus, photo, save

pytestmark = pytest.mark.tensorflow

SAMPLES = corpus()
# (format or sample name, channels): TF raises, the gateway applies its PNG rules instead.
TF_REFUSES_GATEWAY_ANSWERS = {("gif", 1), ("bmp", 1), ("webp", 1), ("webp-rgba", 3)}
# 16-bit RGB to one channel: libpng weighs the 16-bit samples, Pillow hands us their high bytes.
OFF_BY_ONE = {("png-rgb16", 1)}
# Stray bytes before a header marker: libjpeg warns, TF decodes; simplejpeg turns that header
# warning into an error even when not strict, so the gateway answers 400.
GATEWAY_REFUSES = {"jpeg-extraneous-bytes"}
JPEGS = [s for s in SAMPLES if s.fmt == "jpeg" and not s.truncated and s.name not in GATEWAY_REFUSES]
RESIZES = [("bilinear", False), ("bilinear", True), ("nearest", False), ("area", False)]


@pytest.fixture(scope="module")
def tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return pytest.importorskip("tensorflow")


def gateway_pixels(data, channels, **image):
    """The gateway's decoded pixels as (H, W, channels) uint8 (1-channel sources repeated,
    as the kernel does for a 3-channel model)."""
    spec = ImageSpec(height=8, width=8, color="rgb" if channels == 3 else "grayscale", **image)
    got = np.asarray(imaging.decode_image(data, spec, max_pixels=10**7))
    got = got.reshape(got.shape[0], got.shape[1], -1)
    return np.repeat(got, channels, axis=2) if got.shape[2] != channels else got


def tf_or_none(fn):
    try:
        return fn().numpy()
    except Exception:  # TF's InvalidArgumentError: TF refuses this file
        return None


@pytest.mark.parametrize("channels", [3, 1])
@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.name)
def test_tensorflow_decoding_equals_decode_image(tf, sample, channels):
    want = tf_or_none(lambda: tf.io.decode_image(sample.data, channels=channels, expand_animations=False))
    refused_here = (sample.fmt, channels) in TF_REFUSES_GATEWAY_ANSWERS or \
        (sample.name, channels) in TF_REFUSES_GATEWAY_ANSWERS
    if (want is None and not refused_here) or sample.name in GATEWAY_REFUSES:
        with pytest.raises(InvalidArgument, match="not a decodable image"):
            gateway_pixels(sample.data, channels)
        return
    got = gateway_pixels(sample.data, channels)
    if want is None:  # TF refuses; the gateway's answer is its PNG rule on the same pixels
        assert got.shape[2] == channels
        return
    assert got.shape == want.shape
    diff = np.abs(got.astype(int) - want).max()
    assert diff <= (1 if (sample.name, channels) in OFF_BY_ONE else 0), diff


@pytest.mark.parametrize("channels", [3, 1])
@pytest.mark.parametrize("sample", JPEGS, ids=lambda s: s.name)
def test_accurate_equals_integer_accurate(tf, sample, channels):
    want = tf_or_none(lambda: tf.io.decode_jpeg(sample.data, channels=channels, dct_method="INTEGER_ACCURATE"))
    if want is None:
        assert "cmyk" in sample.name or "ycck" in sample.name  # CMYK to one channel only
        with pytest.raises(InvalidArgument, match="CMYK JPEG cannot be decoded to one channel"):
            gateway_pixels(sample.data, channels, decode="accurate")
        return
    np.testing.assert_array_equal(gateway_pixels(sample.data, channels, decode="accurate"), want)


@pytest.mark.parametrize("decode, dct", [("tensorflow", ""), ("accurate", "INTEGER_ACCURATE")])
@pytest.mark.parametrize("size, target, ratio", [
    ((240, 320), (120, 160), 2), ((240, 320), (59, 79), 4), ((243, 317), (30, 39), 8),
    ((240, 320), (121, 100), 1), ((97, 181), (11, 11), 8), ((600, 800), (299, 299), 2),
])
def test_reduced_dct_equals_decode_jpeg_ratio(tf, decode, dct, size, target, ratio):
    from PIL import Image

    for sub in (0, 2):
        data = save(Image.fromarray(photo(*size, seed=sub)), "JPEG", quality=90, subsampling=sub)
        want = tf.io.decode_jpeg(data, channels=3, ratio=ratio, dct_method=dct).numpy()
        got = gateway_pixels_for(data, target, decode=decode, reduced_dct=True)
        np.testing.assert_array_equal(got, want)


def gateway_pixels_for(data, target, **image):
    spec = ImageSpec(height=target[0], width=target[1], **image)
    got = np.asarray(imaging.decode_image(data, spec, max_pixels=10**7))
    return got.reshape(got.shape[0], got.shape[1], -1)


def tf_pipeline(tf, pixels, spec):
    """decode -> tf.image.resize -> x * (scale / std) + (-mean / std) in float32, as the spec says."""
    resized = tf.image.resize(tf.constant(pixels, tf.float32)[None], (spec.height, spec.width), method=spec.resize,
                              antialias=spec.antialias)[0]
    mul = np.array([spec.scale / s for s in spec.std], np.float32)
    add = np.array([-m / s for m, s in zip(spec.mean, spec.std)], np.float32)
    return (resized * mul + add).numpy()


def gateway_tensor(data, spec):
    writer = fastpack.ImageBatch([imaging.decode_image(data, spec, max_pixels=10**7)],
                                 spec.preprocess_params("float32"))
    out = np.empty(writer.shape, np.float32)
    writer.write_into(out.reshape(-1).view(np.uint8))
    return out[0]


@pytest.mark.parametrize("method, antialias", RESIZES)
def test_end_to_end_tensor_equals_tf_pipeline(tf, method, antialias):
    names = {"jpeg-121x87-420", "jpeg-64x48-422", "jpeg-progressive", "jpeg-gray", "jpeg-cmyk-adobe",
             "jpeg-exif-6", "png-rgba", "png-palette-trns", "gif-transparent", "webp-lossy"}
    picked = [s for s in SAMPLES if s.name in names]
    assert len(picked) == len(names)
    for color, channels in (("rgb", 3), ("grayscale", 1)):
        spec = ImageSpec(height=45, width=29, color=color, resize=method, antialias=antialias,
                         scale=1 / 127.5, mean=(1.0,), std=(1.0,))
        for sample in picked:
            pixels = tf_or_none(lambda data=sample.data, c=channels: tf.io.decode_image(
                data, channels=c, expand_animations=False))
            if pixels is None:
                continue  # TF refuses this pair (CMYK or GIF/WebP to one channel)
            np.testing.assert_array_equal(gateway_tensor(sample.data, spec), tf_pipeline(tf, pixels, spec),
                                          err_msg=f"{sample.name} {color}")


def test_exif_orientation_turns_tf_pixels_like_pillow(tf):
    from PIL import Image

    turn = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
            4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270,
            7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_90}
    for sample in (s for s in SAMPLES if s.name.startswith("jpeg-exif-")):
        orientation = int(sample.name.rsplit("-", 1)[1])
        decoded = tf.io.decode_image(sample.data, channels=3).numpy()
        want = decoded if orientation == 1 else np.asarray(Image.fromarray(decoded).transpose(turn[orientation]))
        np.testing.assert_array_equal(gateway_pixels(sample.data, 3, exif_orientation=True), want)
        np.testing.assert_array_equal(gateway_pixels(sample.data, 3), decoded)  # default: ignored
