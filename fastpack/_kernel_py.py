"""The image kernel in numpy: the readable reference twin of ``_kernel_c.pyx``.

It does the same float32 operations in the same order as the compiled kernel (and as the
TensorFlow ops the tables copy), just on whole arrays instead of row by row, so the two agree to
the last bit on x86-64 and the tests can hold either one to TensorFlow.
"""
from typing import Callable

import numpy as np

from fastpack._kernel_images import (
    LUMA_B, LUMA_G, LUMA_R, LUMA_ROUND, LUMA_SHIFT,
    ImageBatchBase, make_preprocess, prepare,
)
from fastpack._kernel_tables import KIND_LERP

_OUT_DTYPES = (np.dtype("<f4"), np.dtype("<f2"), np.dtype("u1"))


def to_gray(source: np.ndarray) -> np.ndarray:
    """RGB -> Pillow "L" luma, (H, W, 3) -> (H, W, 1) uint8."""
    rgb = source.astype(np.uint32)
    luma = rgb[..., 0] * LUMA_R + rgb[..., 1] * LUMA_G + rgb[..., 2] * LUMA_B + LUMA_ROUND
    return (luma >> LUMA_SHIFT).astype(np.uint8)[..., None]


def _weighted(gather, table) -> np.ndarray:
    """sum_k weight[:, k] * gather(index[:, k]), accumulated from 0.0 in tap order."""
    acc = None
    for k in range(table.taps):
        weight = table.weight[:, k]
        term = gather(table.index[:, k], weight)
        acc = term if acc is None else acc + term
    return acc


def _cols(pixels: np.ndarray, table) -> np.ndarray:
    """Resample axis 1 of (rows, in_w, C) -> (rows, out_w, C) float32."""
    if table.kind == KIND_LERP:
        left = pixels[:, table.index[:, 0]].astype(np.float32)
        right = pixels[:, table.index[:, 1]].astype(np.float32)
        return left + (right - left) * table.weight[None, :, 0, None]
    zero = np.float32(0.0)
    return _weighted(
        lambda idx, w: zero + w[None, :, None] * pixels[:, idx].astype(np.float32), table
    )


def _rows(pixels: np.ndarray, table) -> np.ndarray:
    """Resample axis 0 of (in_h, W, C) -> (out_h, W, C) float32."""
    if table.kind == KIND_LERP:
        top = pixels[table.index[:, 0]].astype(np.float32)
        bottom = pixels[table.index[:, 1]].astype(np.float32)
        return top + (bottom - top) * table.weight[:, 0, None, None]
    zero = np.float32(0.0)
    return _weighted(
        lambda idx, w: zero + w[:, None, None] * pixels[idx].astype(np.float32), table
    )


def resample(source: np.ndarray, plan) -> np.ndarray:
    """(H, W, C) uint8 -> (out_h, out_w, C') float32 on the un-normalised 0..255 scale."""
    if plan.to_gray:
        source = to_gray(source)
    if plan.vertical_first:
        values = _cols(_rows(source, plan.rows), plan.cols)
    else:
        values = _rows(_cols(source, plan.cols), plan.rows)
    if plan.post_scale != 1.0:
        values = values * plan.post_scale
    return values


def finish(values: np.ndarray, plan) -> np.ndarray:
    """Select channels, normalise, lay out and convert: the array to be written."""
    values = values[:, :, plan.channel_map] * plan.mul + plan.add
    if plan.layout == 1:
        values = values.transpose(2, 0, 1)
    dtype = _OUT_DTYPES[plan.dtype]
    if dtype == np.uint8:
        return np.clip(np.rint(values), 0, 255).astype(np.uint8)
    with np.errstate(over="ignore"):  # float16 overflow is inf, as the compiled kernel writes
        return values.astype(dtype)


def write_image(source: np.ndarray, params, dest: memoryview) -> None:
    """Write one checked image's tensor bytes into ``dest`` (exactly its slice of the batch)."""
    pixels, plan = prepare(source, params)
    out = np.ascontiguousarray(finish(resample(pixels, plan), plan))
    np.frombuffer(dest, dtype=np.uint8)[:] = out.reshape(-1).view(np.uint8)


class ImageBatch(ImageBatchBase):
    __doc__ = ImageBatchBase.__doc__
    __slots__ = ()
    write_image = staticmethod(write_image)


# annotated: type checkers read this twin for fastpack.preprocess (see _choose)
preprocess: Callable[..., np.ndarray] = make_preprocess(ImageBatch)

__all__ = ["ImageBatch", "preprocess", "resample", "to_gray", "write_image"]
