"""Encoded image bytes -> uint8 pixel arrays, safely, then fastpack's ImageBatch.

Untrusted bytes: the pixel count is checked from the header before any pixel is decoded
(decompression bombs), truncated or unknown files are clear 400s. JPEGs at least twice the
target size are decoded at reduced DCT scale (``Image.draft``), which is several times faster
and is what the resize would throw away anyway. EXIF orientation is applied, the colour space
converted (grayscale decodes to one channel; RGB/BGR to three, the kernel swaps for BGR).
"""
from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from sanic_app.errors import InvalidArgument, PayloadTooLarge
from sanic_app.spec import ImageSpec

# EXIF orientations that swap width and height.
_TRANSPOSING = {5, 6, 7, 8}
_EXIF_ORIENTATION = 0x0112


def decode_image(data: bytes, image: ImageSpec, *, max_pixels: int, where: str = "") -> np.ndarray:
    """Decode one image into an HxWxC uint8 array (C = 1 for grayscale, else 3)."""
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
            pixels = np.asarray(img)
    except (PayloadTooLarge, InvalidArgument):
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own guard (MAX_IMAGE_PIXELS = our limit, see limits.apply_pillow_limit).
        raise PayloadTooLarge(f"{prefix}image too large: {exc}") from None
    except UnidentifiedImageError as exc:
        raise InvalidArgument(f"{prefix}not a decodable image ({exc})") from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:  # truncated, corrupt, bad header
        raise InvalidArgument(f"{prefix}not a decodable image ({type(exc).__name__}: {exc})") from None
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    return pixels


def _orientation(img: Image.Image) -> int | None:
    try:
        return img.getexif().get(_EXIF_ORIENTATION)
    except Exception:  # malformed EXIF is ignored, like most viewers do
        return None


def _flatten(img: Image.Image) -> Image.Image:
    """Palette and 16-bit modes go through RGBA/L first so convert() keeps their colours."""
    if img.mode == "P":
        return img.convert("RGBA")
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        return Image.fromarray((np.asarray(img, dtype=np.uint32) >> 8).astype(np.uint8), "L")
    return img


def image_batch(images: list[np.ndarray], image: ImageSpec, dtype: str):
    """A TensorWriter that resizes/normalises ``images`` straight into the request bytes."""
    import fastpack

    if hasattr(fastpack, "ImageBatch"):
        return fastpack.ImageBatch(images, image.preprocess_params(dtype))
    return PillowBatch(images, image, dtype)


class PillowBatch:
    """Stand-in TensorWriter for builds without fastpack's image kernel: the same maths in numpy
    (tf.image.resize's half-pixel bilinear/nearest; Pillow's BOX for area, its triangle filter
    for antialiased bilinear and "pillow"), slower and allocating."""

    def __init__(self, images, image: ImageSpec, dtype: str):
        self.images, self.image = images, image
        self.dtype = np.dtype(dtype)
        self.shape = (len(images), *image.item_shape())

    def _resize(self, pixels: np.ndarray) -> np.ndarray:
        spec = self.image
        h, w = pixels.shape[:2]
        if (h, w) == (spec.height, spec.width):
            return pixels.astype(np.float32)
        if spec.resize in ("area", "pillow") or (spec.resize == "bilinear" and spec.antialias):
            flt = Image.BOX if spec.resize == "area" else Image.BILINEAR
            planes = [np.asarray(Image.fromarray(np.ascontiguousarray(pixels[:, :, c])).resize((spec.width, spec.height), flt))
                      for c in range(pixels.shape[2])]
            return np.stack(planes, axis=2).astype(np.float32)
        ys = (np.arange(spec.height) + 0.5) * (h / spec.height)
        xs = (np.arange(spec.width) + 0.5) * (w / spec.width)
        if spec.resize == "nearest":
            yi = np.minimum(np.floor(ys).astype(int), h - 1)
            xi = np.minimum(np.floor(xs).astype(int), w - 1)
            return pixels[yi][:, xi].astype(np.float32)
        ys, xs = np.maximum(ys - 0.5, 0), np.maximum(xs - 0.5, 0)
        y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
        y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
        fy, fx = (ys - y0)[:, None, None], (xs - x0)[None, :, None]
        p = pixels.astype(np.float32)
        top = p[y0][:, x0] * (1 - fx) + p[y0][:, x1] * fx
        bottom = p[y1][:, x0] * (1 - fx) + p[y1][:, x1] * fx
        return top * (1 - fy) + bottom * fy

    def write_into(self, buf: memoryview) -> None:
        out = np.frombuffer(buf, dtype=self.dtype).reshape(self.shape)
        spec = self.image
        mean = np.asarray(spec.mean, np.float32)
        std = np.asarray(spec.std, np.float32)
        for i, pixels in enumerate(self.images):
            if spec.channels == 1 and pixels.shape[2] == 3:
                pixels = np.asarray(Image.fromarray(pixels).convert("L"))[:, :, None]
            item = self._resize(pixels)
            if spec.color == "bgr":
                item = item[:, :, ::-1]
            item = (item * spec.scale - mean) / std
            if spec.layout == "NCHW":
                item = item.transpose(2, 0, 1)
            out[i] = np.clip(np.rint(item), 0, 255) if self.dtype == np.uint8 else item
