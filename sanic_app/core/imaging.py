"""The imaging stage: encoded image bytes -> decoded Pillow images, safely.

Untrusted bytes: the pixel count is checked from the header before any pixel is decoded
(decompression bombs), truncated or unknown files are clear 400s. JPEGs at least twice the
target size are decoded at reduced DCT scale (``Image.draft``), which is several times faster
and is what the resize would throw away anyway. EXIF orientation is applied, the colour space
converted (grayscale decodes to one channel; RGB/BGR to three, the kernel swaps for BGR).
The decoded image goes to the kernel as a Pillow image, not an array: the compiled kernel reads
Pillow's pixel memory in place (a copy of the pixels cost ~0.2 ms per 500x375 image under load).
"""
from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from sanic_app.errors import InvalidArgument, PayloadTooLarge
from sanic_app.core.spec import ImageSpec

# EXIF orientations that swap width and height.
_TRANSPOSING = {5, 6, 7, 8}
_EXIF_ORIENTATION = 0x0112


def decode_image(data: bytes, image: ImageSpec, *, max_pixels: int, where: str = "") -> Image.Image:
    """Decode one image into a loaded Pillow image of mode "L" (grayscale) or "RGB"."""
    prefix = f"{where}: " if where else ""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            width, height = img.size
            if width * height > max_pixels:
                raise PayloadTooLarge(f"{prefix}image is {width}x{height} = {width * height} pixels, "
                                      f"more than the limit of {max_pixels}")
            orientation = _orientation(img)
            if img.format == "JPEG":
                want = (image.height, image.width) if orientation in _TRANSPOSING else (image.width, image.height)
                if width >= 2 * want[0] and height >= 2 * want[1]:
                    img.draft("L" if image.color == "grayscale" else "RGB", want)
            img.load()
            if orientation not in (None, 1):
                img = ImageOps.exif_transpose(img)
            mode = "L" if image.color == "grayscale" else "RGB"
            if img.mode != mode:
                img = _flatten(img).convert(mode)
    except (PayloadTooLarge, InvalidArgument):
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own guard (MAX_IMAGE_PIXELS = our limit, see limits.apply_pillow_limit).
        raise PayloadTooLarge(f"{prefix}image too large: {exc}") from None
    except UnidentifiedImageError as exc:
        raise InvalidArgument(f"{prefix}not a decodable image ({exc})") from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:  # truncated, corrupt, bad header
        raise InvalidArgument(f"{prefix}not a decodable image ({type(exc).__name__}: {exc})") from None
    return img


def _orientation(img: Image.Image) -> int | None:
    try:
        return img.getexif().get(_EXIF_ORIENTATION)
    except Exception:  # malformed EXIF is ignored, like most viewers do
        return None


def _flatten(img: Image.Image) -> Image.Image:
    """Palette and integer modes go through RGBA/L first so convert() keeps their colours.

    16-bit sources (PNG, TIFF) hold 0..65535: keep the high byte. Pillow also reads them as
    32-bit "I"; values outside 0..65535 there (signed TIFFs) clip rather than wrap."""
    if img.mode == "P":
        return img.convert("RGBA")
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        high = np.asarray(img, dtype=np.int64) >> 8
        return Image.fromarray(np.clip(high, 0, 255).astype(np.uint8), "L")
    return img
