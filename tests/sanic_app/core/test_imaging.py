"""Image decoding on untrusted bytes: limits from the header, EXIF, colour, reduced DCT, bad files.

(Equality with TensorFlow's decoders is tests/sanic_app/core/decoding/test_decoding_tf.py.)"""
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
    """decode_image's pixels (array or Pillow image, what the kernel takes) as an HxWxC array."""
    img = imaging.decode_image(data, spec, **kw)
    if isinstance(img, Image.Image):
        assert img.mode in ("L", "RGB")
        img = np.asarray(img)
    assert img.dtype == np.uint8 and img.flags.c_contiguous
    arr = img.reshape(img.shape[0], img.shape[1], -1)
    assert arr.shape[2] in ((1,) if spec.color == "grayscale" else (1, 3))
    return arr


def test_rgb_and_grayscale():
    pixels = np.zeros((5, 7, 3), np.uint8)
    pixels[..., 0] = 200
    rgb = decode(encode(pixels), RGB, max_pixels=100)
    assert rgb.shape == (5, 7, 3) and rgb.dtype == np.uint8 and (rgb[..., 0] == 200).all()
    gray = decode(encode(pixels), GRAY, max_pixels=100)
    assert gray.shape == (5, 7, 1) and gray[0, 0, 0] == 200 * 9797 >> 15  # libpng's 0.299, truncated


@pytest.mark.parametrize("mode", ["P", "RGBA", "LA", "I;16", "1", "CMYK"])
def test_other_modes_convert(mode):
    img = Image.new("RGB", (6, 4), (10, 200, 30)).convert(mode)
    out = io.BytesIO()
    img.save(out, format="TIFF" if mode in ("CMYK", "I;16") else "PNG")
    arr = decode(out.getvalue(), RGB, max_pixels=100)
    assert arr.shape[:2] == (4, 6)


def test_32_bit_integer_pixels_keep_the_16_bit_scale_and_clip():
    pixels = np.array([[0, 256 * 200, 65535, 70000, -5]], dtype=np.int32)
    out = io.BytesIO()
    Image.fromarray(pixels, "I").save(out, format="TIFF")
    gray = decode(out.getvalue(), GRAY, max_pixels=100)
    assert gray[0, :, 0].tolist() == [0, 200, 255, 255, 0]


def test_exif_orientation_is_applied_only_when_asked():
    pixels = np.zeros((4, 8, 3), np.uint8)
    pixels[0, 0] = 255  # a marker in the top-left corner
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to view
    for fmt, save in (("JPEG", {"quality": 100}), ("PNG", {})):
        data = encode(pixels, fmt, exif=exif.tobytes(), **save)
        arr = decode(data, ImageSpec(height=16, width=16, exif_orientation=True), max_pixels=100)
        assert arr.shape == (8, 4, 3)
        assert arr[0, -1].mean() > 150 and arr[0, 0].mean() < 100  # top-left went to top-right
        assert decode(data, RGB, max_pixels=100).shape == (4, 8, 3)  # TF's default: EXIF ignored


def test_pixel_limit_is_checked_before_decoding():
    data = encode(np.zeros((100, 100, 3), np.uint8))
    with mock.patch.object(Image.Image, "load", side_effect=AssertionError("decoded")):
        with pytest.raises(PayloadTooLarge, match="100x100 = 10000 pixels, more than the limit of 9999"):
            imaging.decode_image(data, RGB, max_pixels=9999, where="instance 2")


def test_jpeg_pixel_limit_is_checked_from_the_header():
    data = encode(np.zeros((100, 100, 3), np.uint8), "JPEG")
    with mock.patch("simplejpeg.decode_jpeg", side_effect=AssertionError("decoded")):
        with pytest.raises(PayloadTooLarge, match="100x100 = 10000 pixels, more than the limit of 9999"):
            imaging.decode_image(data, RGB, max_pixels=9999, where="instance 2")
    assert decode(data, RGB, max_pixels=10000).shape == (100, 100, 3)  # the other side of it


def test_reduced_dct_only_when_asked():
    big = encode(np.full((256, 320, 3), 90, np.uint8), "JPEG")
    reduced = ImageSpec(height=64, width=64, reduced_dct=True)
    assert decode(big, reduced, max_pixels=10**6).shape == (64, 80, 3)  # 1/4: smallest still >= target
    assert decode(big, ImageSpec(height=64, width=64), max_pixels=10**6).shape == (256, 320, 3)
    near = ImageSpec(height=200, width=200, reduced_dct=True)
    assert decode(big, near, max_pixels=10**6).shape == (256, 320, 3)  # under 2x the target: full size


@pytest.mark.parametrize("data", [
    b"", b"hello", b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, b"GIF89a", encode(np.zeros((30, 30, 3), np.uint8), "JPEG")[:200],
    b"\xff\xd8\xff", b"\xff\xd8\xff\xe0" + b"\x00" * 40,
])
def test_garbage_is_a_clear_400(data):
    with pytest.raises(InvalidArgument, match="instance 0: not a decodable image"):
        imaging.decode_image(data, RGB, max_pixels=10**6, where="instance 0")


@pytest.mark.parametrize("size, target, orientation", [
    ((120, 160), (16, 16), 1), ((120, 160), (50, 70), 6), ((97, 131), (97, 131), 3), ((64, 300), (8, 20), 8)])
def test_the_old_pixels_recipe_equals_pillow_with_draft_and_exif(size, target, orientation):
    """decode "accurate" + reduced_dct + exif_orientation = what the gateway did before (Pillow's
    accurate IDCT, draft() for large JPEGs, exif_transpose), for RGB models."""
    from PIL import ImageOps

    rng = np.random.default_rng(orientation)
    pixels = np.clip(rng.normal(128, 40, (*size, 3)), 0, 255).astype(np.uint8)
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(pixels, "JPEG", exif=exif.tobytes())
    img = Image.open(io.BytesIO(data))
    want_wh = (target[0], target[1]) if orientation in (5, 6, 7, 8) else (target[1], target[0])
    if img.width >= 2 * want_wh[0] and img.height >= 2 * want_wh[1]:
        img.draft("RGB", want_wh)
    want = np.asarray(ImageOps.exif_transpose(img))
    spec = ImageSpec(height=target[0], width=target[1], decode="accurate", reduced_dct=True, exif_orientation=True)
    np.testing.assert_array_equal(decode(data, spec, max_pixels=10**6), want)


def test_jpeg_scan_count_is_limited():
    from sanic_app.core import decoding

    data = encode(np.full((16, 16, 3), 90, np.uint8), "JPEG", progressive=True)
    sos = data.find(b"\xff\xda")
    eoi = data.rfind(b"\xff\xd9")
    last = data.rfind(b"\xff\xda")
    scan = data[last:eoi]  # one (refinement) scan, repeated: a scan bomb in miniature
    at_limit = data[:eoi] + scan * (decoding.MAX_JPEG_SCANS - data.count(b"\xff\xda", sos)) + data[eoi:]
    assert decode(at_limit, RGB, max_pixels=10**6).shape == (16, 16, 3)
    over = data[:eoi] + scan * (decoding.MAX_JPEG_SCANS + 1 - data.count(b"\xff\xda", sos)) + data[eoi:]
    with pytest.raises(InvalidArgument, match="scans, more than the limit of 500"):
        imaging.decode_image(over, RGB, max_pixels=10**6)
