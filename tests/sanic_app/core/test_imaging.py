"""Image decoding on untrusted bytes: limits from the header, EXIF, colour, draft, bad files."""
import io
from unittest import mock

import numpy as np
import pytest
from PIL import Image

from sanic_app.core import imaging
from sanic_app.errors import InvalidArgument, PayloadTooLarge
from sanic_app.core.spec import ImageSpec

RGB = ImageSpec(height=16, width=16, color="rgb")
GRAY = ImageSpec(height=16, width=16, color="grayscale")


def encode(pixels, fmt="PNG", **save) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format=fmt, **save)
    return out.getvalue()


def decode(data, spec, **kw) -> np.ndarray:
    """decode_image's Pillow image as an HxWxC array, checking its mode on the way."""
    img = imaging.decode_image(data, spec, **kw)
    assert isinstance(img, Image.Image) and img.mode == ("L" if spec.color == "grayscale" else "RGB")
    return np.asarray(img).reshape(img.height, img.width, -1)


def test_rgb_and_grayscale():
    pixels = np.zeros((5, 7, 3), np.uint8)
    pixels[..., 0] = 200
    rgb = decode(encode(pixels), RGB, max_pixels=100)
    assert rgb.shape == (5, 7, 3) and rgb.dtype == np.uint8 and (rgb[..., 0] == 200).all()
    gray = decode(encode(pixels), GRAY, max_pixels=100)
    assert gray.shape == (5, 7, 1) and gray[0, 0, 0] == round(200 * 299 / 1000)


@pytest.mark.parametrize("mode", ["P", "RGBA", "LA", "I;16", "1", "CMYK"])
def test_other_modes_convert(mode):
    img = Image.new("RGB", (6, 4), (10, 200, 30)).convert(mode)
    out = io.BytesIO()
    img.save(out, format="TIFF" if mode in ("CMYK", "I;16") else "PNG")
    arr = decode(out.getvalue(), RGB, max_pixels=100)
    assert arr.shape == (4, 6, 3)


def test_32_bit_integer_pixels_keep_the_16_bit_scale_and_clip():
    pixels = np.array([[0, 256 * 200, 65535, 70000, -5]], dtype=np.int32)
    out = io.BytesIO()
    Image.fromarray(pixels, "I").save(out, format="TIFF")
    gray = decode(out.getvalue(), GRAY, max_pixels=100)
    assert gray[0, :, 0].tolist() == [0, 200, 255, 255, 0]


def test_exif_orientation_is_applied():
    pixels = np.zeros((4, 8, 3), np.uint8)
    pixels[0, 0] = 255  # a marker in the top-left corner
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to view
    arr = decode(encode(pixels, "JPEG", exif=exif.tobytes(), quality=100), RGB, max_pixels=100)
    assert arr.shape == (8, 4, 3)
    assert arr[0, -1].mean() > 150 and arr[0, 0].mean() < 100  # top-left went to top-right


def test_pixel_limit_is_checked_before_decoding():
    data = encode(np.zeros((100, 100, 3), np.uint8))
    with mock.patch.object(Image.Image, "load", side_effect=AssertionError("decoded")):
        with pytest.raises(PayloadTooLarge, match="100x100 = 10000 pixels, more than the limit of 9999"):
            imaging.decode_image(data, RGB, max_pixels=9999, where="instance 2")


def test_large_jpeg_uses_reduced_dct_decoding():
    big = encode(np.full((256, 320, 3), 90, np.uint8), "JPEG")
    arr = decode(big, ImageSpec(height=64, width=64), max_pixels=10**6)
    assert arr.shape == (64, 80, 3)  # 1/4 scale: the smallest draft still >= the target
    arr = decode(big, ImageSpec(height=200, width=200), max_pixels=10**6)
    assert arr.shape == (256, 320, 3)  # less than 2x the target: full decode


@pytest.mark.parametrize("data", [
    b"", b"hello", b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, b"GIF89a", encode(np.zeros((30, 30, 3), np.uint8), "JPEG")[:200],
])
def test_garbage_is_a_clear_400(data):
    with pytest.raises(InvalidArgument, match="instance 0: not a decodable image"):
        imaging.decode_image(data, RGB, max_pixels=10**6, where="instance 0")
