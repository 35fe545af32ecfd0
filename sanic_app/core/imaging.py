"""The imaging stage: encoded image bytes -> pixels, safely.

The decoding itself lives in ``sanic_app.core.decoding`` (TF-exact JPEGs through libjpeg-turbo,
other formats through Pillow with TF's channel rules, as the spec's ``decode``, ``reduced_dct``
and ``exif_orientation`` say); here its failures become the gateway's errors. Untrusted bytes: the
pixel count is checked from the header before any pixel is decoded (decompression bombs);
truncated, corrupt or unknown files are clear 400s. The pixels go to the kernel as a numpy array
or Pillow image that it reads in place (a copy cost ~0.2 ms per 500x375 image under load).
"""
from __future__ import annotations

from PIL import Image, UnidentifiedImageError

from sanic_app.core import decoding
from sanic_app.errors import InvalidArgument, PayloadTooLarge
from sanic_app.core.spec import ImageSpec


def decode_image(data: bytes, image: ImageSpec, *, max_pixels: int, where: str = ""):
    """Decode one image into a uint8 (H, W, C) array or a loaded Pillow "L"/"RGB" image."""
    prefix = f"{where}: " if where else ""
    try:
        return decoding.decode(data, image, max_pixels=max_pixels)
    except decoding.TooManyPixels as big:
        pixels = big.width * big.height
        raise PayloadTooLarge(f"{prefix}image is {big.width}x{big.height} = {pixels} pixels, "
                              f"more than the limit of {max_pixels}") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own guard (MAX_IMAGE_PIXELS = our limit, see limits.apply_pillow_limit).
        raise PayloadTooLarge(f"{prefix}image too large: {exc}") from None
    except UnidentifiedImageError as exc:
        raise InvalidArgument(f"{prefix}not a decodable image ({exc})") from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:  # truncated, corrupt, bad header
        raise InvalidArgument(f"{prefix}not a decodable image ({type(exc).__name__}: {exc})") from None
