"""Non-JPEG images (PNG, GIF, BMP, WebP, and what else Pillow reads) -> TF's channel rules.

Pillow decodes these losslessly (WebP through libwebp, as TF does), so the pixel values already
agree with TF's decoders; what differs is how a source becomes 1 or 3 channels. These are the
rules of TF's PNG decoder (libpng transformations), applied to every format:
- alpha is dropped, never composited (``png_set_strip_alpha``); a palette becomes its colours;
- 16-bit samples keep their high byte (``png_set_strip_16``);
- colour -> one channel is libpng's ``png_set_rgb_to_gray(0.299, 0.587)``: fixed-point weights
  9797/19234/3737 over 2**15, truncated (Pillow's own "L" rounds and differs by 1 on about half
  of the pixels);
- gray -> three channels repeats the gray (left to the image kernel: a 1-channel source feeds
  every output channel);
- a GIF's transparent pixels are black (TF's GIF decoder fills them with 0); only the first
  frame is decoded (``expand_animations=False``).
TF refuses some of these pairs outright (one channel from GIF, BMP or WebP; 3 channels from an
RGBA WebP): the gateway answers them with the same rules instead of an error.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

_GRAY_WEIGHTS = (9797, 19234, 3737)  # libpng: 0.299 and 0.587 as 1/100000 fixed point, * 32768 / 100000
_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I")


def to_channels(img: Image.Image, channels: int):
    """A loaded Pillow image -> a Pillow "L"/"RGB" image or a uint8 (H, W) array the kernel
    reads in place; ``channels`` 3 may still give one channel (gray sources)."""
    mode = img.mode
    if mode in _SIXTEEN_BIT:
        high = np.asarray(img, dtype=np.int64) >> 8  # "I" holds signed 32-bit: clip, do not wrap
        return np.ascontiguousarray(np.clip(high, 0, 255).astype(np.uint8))
    if mode in ("L", "1", "LA", "La"):
        return img if mode == "L" else img.convert("L")
    rgb = img if mode == "RGB" else img.convert("RGB")  # P, PA, RGBA, CMYK, ...: colours, no alpha
    clear = img.info.get("transparency")
    if img.format == "GIF" and mode == "P" and isinstance(clear, int):
        pixels = np.array(rgb)
        pixels[np.asarray(img) == clear] = 0
        return pixels if channels == 3 else gray_like_libpng(pixels)
    return rgb if channels == 3 else gray_like_libpng(np.asarray(rgb))


def gray_like_libpng(rgb: np.ndarray) -> np.ndarray:
    """One channel from (H, W, 3) uint8 exactly as TF's PNG decoder computes it."""
    r, g, b = (rgb[..., i].astype(np.uint32) for i in range(3))
    wr, wg, wb = _GRAY_WEIGHTS
    return ((wr * r + wg * g + wb * b) >> 15).astype(np.uint8)
