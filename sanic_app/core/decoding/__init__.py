"""Encoded image bytes -> the pixels a TF input pipeline would have decoded, safely.

``decode`` is the one entry: JPEGs go to libjpeg-turbo (``jpeg``), everything else to Pillow with
TF's channel rules (``channels``). The spec's image section picks the IDCT (``decode``:
"tensorflow" = TF's default fast integer IDCT, "accurate" = ``dct_method="INTEGER_ACCURATE"``),
whether large JPEGs decode at 1/N scale (``reduced_dct``, = ``decode_jpeg(ratio=N)``) and
whether EXIF orientation is applied (``exif_orientation``; TF never does).

Untrusted bytes: the pixel count comes from the header before any pixel is decoded
(decompression bombs); truncated, corrupt or unknown files are ValueError/OSError here, which
``sanic_app.core.imaging`` turns into clear 400s.
"""
from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image

from sanic_app.core.decoding import channels as _channels
from sanic_app.core.decoding import jpeg, markers, orientation

DECODERS = ("tensorflow", "accurate")
# A progressive JPEG re-reads every coefficient once per scan: a small file with thousands of
# scans is a CPU bomb the pixel limit does not catch. Real encoders write about 10 (libjpeg-turbo's
# own tools suggest a limit of 500).
MAX_JPEG_SCANS = 500


class TooManyPixels(Exception):
    """The header declares more pixels than the limit; nothing was decoded."""

    def __init__(self, width: int, height: int):
        super().__init__(f"{width}x{height}")
        self.width, self.height = width, height


def decode(data: bytes, image, *, max_pixels: int):
    """Pixels for an ImageSpec-like ``image``: a uint8 array (H, W, C) or a Pillow "L"/"RGB"
    image, both read in place by fastpack's ImageBatch."""
    if jpeg.is_jpeg(data):
        return _decode_jpeg(data, image, max_pixels)
    return _decode_other(data, image, max_pixels)


def _decode_jpeg(data: bytes, image, max_pixels: int) -> np.ndarray:
    height, width, colorspace = jpeg.header(data)
    if width * height > max_pixels:
        raise TooManyPixels(width, height)
    found = markers.scan(data)
    if not found.complete:
        raise ValueError("truncated JPEG: the data ends before its end-of-image marker")
    if found.scans > MAX_JPEG_SCANS:
        raise ValueError(f"JPEG has {found.scans} scans, more than the limit of {MAX_JPEG_SCANS}")
    turn = found.orientation if image.exif_orientation else None
    ratio = 1
    if image.reduced_dct:
        want_h, want_w = image.height, image.width
        if turn in orientation.TRANSPOSING:
            want_h, want_w = want_w, want_h
        ratio = jpeg.reduction(height, width, want_h, want_w)
    pixels = jpeg.decode(data, height=height, width=width, colorspace=colorspace,
                         channels=image.channels, fast_dct=image.decode == "tensorflow",
                         ratio=ratio, markers=found)
    return orientation.apply(pixels, turn)


def _decode_other(data: bytes, image, max_pixels: int):
    # Pillow's bomb warning (MAX_IMAGE_PIXELS is our limit) raised as its error: only this path
    # opens Pillow images, so JPEGs do not pay for (or race other decode threads on) the filters.
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        return _decode_with_pillow(data, image, max_pixels)


def _decode_with_pillow(data: bytes, image, max_pixels: int):
    img = Image.open(io.BytesIO(data))
    width, height = img.size
    if width * height > max_pixels:
        raise TooManyPixels(width, height)
    turn = _pillow_orientation(img) if image.exif_orientation else None
    img.load()
    if turn not in (None, 1):
        from PIL import ImageOps

        img = ImageOps.exif_transpose(img)
    return _channels.to_channels(img, image.channels)


def _pillow_orientation(img: Image.Image) -> int | None:
    try:
        return img.getexif().get(0x0112)
    except Exception:  # malformed EXIF is ignored, as viewers do
        return None
