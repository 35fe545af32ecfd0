"""JPEG bytes -> uint8 (H, W, C) pixels with libjpeg-turbo, the way TF's ``decode_jpeg`` does it.

simplejpeg (libjpeg-turbo in its wheel) was chosen by measurement (README, "Decoding"): it decodes
with the fast or the accurate integer IDCT, fancy upsampling and libjpeg's 1/N scaled IDCT, and
returns a C-contiguous numpy array the image kernel reads in place. The TF rules kept here:
``channels=1`` is libjpeg's own grayscale output (the Y plane of a YCbCr JPEG, not a luma of RGB),
CMYK/YCCK JPEGs are decoded as CMYK and turned into RGB with TF's integer formula (inverted when an
Adobe marker is present), and ``ratio`` N decodes at 1/N scale exactly as ``decode_jpeg(ratio=N)``.
Like TF, libjpeg's warnings (extraneous bytes, a corrupt entropy segment) do not fail a decode
(``strict=False``); errors are a ValueError. Truncation, which TF refuses but libjpeg only warns
about, is caught before decoding (``markers.JpegMarkers.complete``).
"""
from __future__ import annotations

import numpy as np
import simplejpeg

from sanic_app.core.decoding.markers import JpegMarkers

RATIOS = (8, 4, 2)  # libjpeg's power-of-two scales, the ones TF's decode_jpeg(ratio=) accepts
_CMYK = ("CMYK", "YCCK")


def is_jpeg(data: bytes) -> bool:
    return data[:3] == b"\xff\xd8\xff"


def header(data: bytes) -> tuple[int, int, str]:
    """(height, width, colour space) from the frame header, before any pixel is decoded."""
    try:
        height, width, colorspace, _ = simplejpeg.decode_jpeg_header(data, strict=False)
    except KeyError:  # simplejpeg's lookup of a subsampling or colour space libjpeg did not know
        raise ValueError("unsupported JPEG colour space or subsampling") from None
    return height, width, colorspace


def reduction(height: int, width: int, want_h: int, want_w: int) -> int:
    """The largest libjpeg ratio that keeps the image at least the wanted size on both sides
    (what Pillow's ``draft`` picks; 1 when the image is less than twice the wanted size)."""
    fits = min(width // want_w, height // want_h)
    return next((r for r in RATIOS if r <= fits), 1)


def decode(data: bytes, *, height: int, width: int, colorspace: str, channels: int,
           fast_dct: bool, ratio: int, markers: JpegMarkers) -> np.ndarray:
    """Pixels of a JPEG whose header said (height, width, colorspace); (H', W', channels)."""
    size = {}
    if ratio > 1:  # exactly 1/ratio: at least ceil(size / ratio) and reduced by at least ratio
        size = {"min_height": -(-height // ratio), "min_width": -(-width // ratio), "min_factor": ratio}
    if colorspace in _CMYK:
        if channels == 1:
            raise ValueError("a CMYK JPEG cannot be decoded to one channel "
                             "(TensorFlow's decode_jpeg refuses it too)")
        cmyk = simplejpeg.decode_jpeg(data, "CMYK", fastdct=fast_dct, fastupsample=False,
                                      strict=False, **size)
        return cmyk_to_rgb(cmyk, markers.adobe)
    # a grayscale JPEG stays one channel even for an RGB model: the kernel feeds that channel to
    # all three outputs, the values TF's gray -> RGB replication gives, a third of the memory
    gray = channels == 1 or colorspace == "Gray"
    return simplejpeg.decode_jpeg(data, "GRAY" if gray else "RGB", fastdct=fast_dct,
                                  fastupsample=False, strict=False, **size)


def cmyk_to_rgb(cmyk: np.ndarray, adobe: bool) -> np.ndarray:
    """TF's rule: Adobe (inverted) CMYK gives k*c/255, plain CMYK (255-k)(255-c)/255, truncated."""
    ink = cmyk.astype(np.uint16)
    if not adobe:
        ink = 255 - ink
    return (ink[..., :3] * ink[..., 3:4] // 255).astype(np.uint8)
