"""EXIF orientation applied to decoded pixels (Pillow's ``ImageOps.exif_transpose`` rules).

TF's decoders ignore EXIF; a spec that wants the photo upright (``"exif_orientation": true``)
gets it turned here, on the uint8 (H, W, C) array, as one C-contiguous copy.
"""
from __future__ import annotations

import numpy as np

# Orientations that swap width and height.
TRANSPOSING = frozenset({5, 6, 7, 8})


def apply(pixels: np.ndarray, orientation: int | None) -> np.ndarray:
    """``pixels`` turned upright for EXIF ``orientation`` (1 or None: unchanged, no copy)."""
    if orientation is None or orientation == 1:
        return pixels
    turned = {
        2: lambda a: a[:, ::-1],                 # mirrored left-right
        3: lambda a: a[::-1, ::-1],              # rotated 180
        4: lambda a: a[::-1],                    # mirrored top-bottom
        5: lambda a: a.transpose(1, 0, 2),       # transposed
        6: lambda a: np.rot90(a, -1),            # rotated 90 clockwise to stand upright
        7: lambda a: a.transpose(1, 0, 2)[::-1, ::-1],  # transversed
        8: lambda a: np.rot90(a, 1),             # rotated 90 counter-clockwise
    }.get(orientation)
    return pixels if turned is None else np.ascontiguousarray(turned(pixels))
