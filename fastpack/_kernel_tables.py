"""Resampling tables: which source pixels feed each output pixel along one axis, and how much.

A table depends only on (method, source size, target size), so it is built once and cached (LRU)
and a request only does the arithmetic. Each builder repeats the float32 arithmetic of the
TensorFlow 2 op that ``tf.image.resize`` runs for that method (read from TF's kernels:
resize_bilinear_op.cc, resize_nearest_neighbor_op.cc, resize_area_op.cc and
scale_and_translate_op.cc), so the kernel lands within a few float32 ulps of TF rather than
merely near it. Every index is clamped into the source; the compiled kernel re-checks anyway.

Two kinds of table:
- LERP (bilinear without antialias): columns (lower, upper) and one weight, the lerp fraction;
  the kernel computes ``a + (b - a) * lerp`` as TF does.
- WEIGHTS (nearest, area, antialiased bilinear): up to ``taps`` (index, weight) pairs per output,
  summed in order from 0.0; unused taps repeat a valid index with weight 0, which adds exactly 0.
"""
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

KIND_LERP = 0
KIND_WEIGHTS = 1

_F32 = np.float32
_TABLE_CACHE_SIZE = 256


@dataclass(frozen=True)
class AxisTable:
    """Resampling of one axis from ``in_size`` to ``out_size`` pixels (arrays are read-only)."""

    kind: int
    in_size: int
    out_size: int
    index: np.ndarray  # int32 [out_size, taps], every entry in [0, in_size)
    weight: np.ndarray  # float32 [out_size, taps]
    count: np.ndarray  # int32 [out_size], taps actually used (the rest weigh 0)

    @property
    def taps(self) -> int:
        return self.index.shape[1]


def _freeze(kind, in_size, out_size, index, weight, count) -> AxisTable:
    index = np.ascontiguousarray(np.clip(index, 0, in_size - 1), dtype=np.int32)
    weight = np.ascontiguousarray(weight, dtype=_F32)
    count = np.ascontiguousarray(count, dtype=np.int32)
    for arr in (index, weight, count):
        arr.flags.writeable = False
    return AxisTable(kind, in_size, out_size, index, weight, count)


def _resize_scale(in_size, out_size):
    """TF's CalculateResizeScale without align_corners: in / out in float32."""
    return _F32(in_size) / _F32(out_size)


def _bilinear(in_size, out_size) -> AxisTable:
    # ResizeBilinear, half_pixel_centers=True: pos = (i + 0.5) * scale - 0.5.
    scale = _resize_scale(in_size, out_size)
    pos = (np.arange(out_size, dtype=_F32) + _F32(0.5)) * scale - _F32(0.5)
    floor = np.floor(pos)
    lower = np.maximum(floor, 0).astype(np.int64)
    upper = np.minimum(np.ceil(pos).astype(np.int64), in_size - 1)
    lerp = (pos - floor).astype(_F32)
    index = np.stack([lower, upper], axis=1)
    weight = np.stack([lerp, np.zeros_like(lerp)], axis=1)
    return _freeze(KIND_LERP, in_size, out_size, index, weight, np.full(out_size, 2))


def _nearest(in_size, out_size) -> AxisTable:
    # ResizeNearestNeighbor, half_pixel_centers=True: floor((i + 0.5) * scale), clamped.
    scale = _resize_scale(in_size, out_size)
    pos = (np.arange(out_size, dtype=_F32) + _F32(0.5)) * scale
    index = np.floor(pos).astype(np.int64)[:, None]
    weight = np.ones((out_size, 1), dtype=_F32)
    return _freeze(KIND_WEIGHTS, in_size, out_size, index, weight, np.ones(out_size))


def _area(in_size, out_size) -> AxisTable:
    """ResizeArea: each output covers [i * s, (i + 1) * s) of the source, s = in / out.

    A source pixel weighs the length of its overlap with that interval (full pixels weigh 1.0);
    the kernel multiplies the 2-D sum by ``area_post_scale``. Upscaling works the same way: an
    output inside one source pixel copies it (like nearest) and one straddling a pixel edge
    blends the two by coverage.
    """
    scale = _resize_scale(in_size, out_size)
    i = np.arange(out_size + 1, dtype=_F32) * scale  # float(i) * scale, as TF computes it
    lo, hi = i[:-1], i[1:]
    start = np.floor(lo).astype(np.int64)
    end = np.ceil(hi).astype(np.int64)
    count = end - start
    taps = int(count.max())
    src = start[:, None] + np.arange(taps)[None, :]
    src_f = src.astype(_F32)
    src1_f = (src + 1).astype(_F32)
    lo2, hi2 = lo[:, None], hi[:, None]
    weight = np.where(
        src_f < lo2,
        np.where(src1_f > hi2, scale, src1_f - lo2),
        np.where(src1_f > hi2, hi2 - src_f, _F32(1.0)),
    ).astype(_F32)
    used = np.arange(taps)[None, :] < count[:, None]
    weight = np.where(used, weight, _F32(0.0))
    src = np.where(used, src, start[:, None])
    return _freeze(KIND_WEIGHTS, in_size, out_size, src, weight, count)


def _triangle(in_size, out_size) -> AxisTable:
    """ScaleAndTranslate with the triangle kernel and antialias=True (translation 0).

    Downscaling widens the kernel by in / out so every source pixel contributes (a low-pass
    filter); upscaling keeps radius 1, which is plain bilinear interpolation.
    """
    scale = _F32(out_size) / _F32(in_size)
    inv_scale = _F32(1.0 / float(scale))
    kernel_scale = max(inv_scale, _F32(1.0))
    one_over_kernel_scale = _F32(1.0) / kernel_scale
    radius = _F32(1.0) * kernel_scale
    sample = (np.arange(out_size).astype(_F32) + _F32(0.5)) * inv_scale
    start = np.ceil(sample - radius - _F32(0.5)).astype(np.int64)
    end = np.floor(sample + radius - _F32(0.5)).astype(np.int64)
    start = np.clip(start, 0, in_size - 1)
    end = np.clip(end, 0, in_size - 1) + 1
    count = end - start
    taps = int(count.max())
    src = start[:, None] + np.arange(taps)[None, :]
    used = np.arange(taps)[None, :] < count[:, None]
    pos = (src.astype(_F32) + _F32(0.5)) - sample[:, None]
    x = np.abs(pos * one_over_kernel_scale)
    weight = np.where(used & (x < _F32(1.0)), _F32(1.0) - x, _F32(0.0)).astype(_F32)
    total = np.zeros(out_size, dtype=_F32)
    for k in range(taps):  # summed in tap order, as TF does
        total = total + weight[:, k]
    ok = np.abs(total) >= _F32(1000.0) * np.finfo(_F32).tiny
    inv_total = np.where(ok, _F32(1.0) / np.where(ok, total, _F32(1.0)), _F32(0.0)).astype(_F32)
    weight = (weight * inv_total[:, None]).astype(_F32)
    src = np.where(used, src, start[:, None])
    return _freeze(KIND_WEIGHTS, in_size, out_size, src, weight, np.maximum(count, 1))


_BUILDERS = {"bilinear": _bilinear, "nearest": _nearest, "area": _area, "triangle": _triangle}


def filter_name(method: str, antialias: bool) -> str:
    """The table family a resize uses: antialias only changes bilinear, as in tf.image.resize."""
    if method == "bilinear" and antialias:
        return "triangle"
    if method == "pillow":
        return "bilinear"  # only ever asked for in == out: the identity
    return method


@lru_cache(maxsize=_TABLE_CACHE_SIZE)
def axis_table(filter_: str, in_size: int, out_size: int) -> AxisTable:
    """The cached table for one axis (``filter_`` from ``filter_name``)."""
    return _BUILDERS[filter_](int(in_size), int(out_size))


def area_post_scale(in_h: int, in_w: int, out_h: int, out_w: int) -> np.float32:
    """ResizeArea's final factor 1 / (height_scale * width_scale), float32 as TF rounds it."""
    product = _resize_scale(in_h, out_h) * _resize_scale(in_w, out_w)
    return _F32(1.0 / float(product))


def uses_vertical_first(filter_: str) -> bool:
    """ScaleAndTranslate resamples rows (vertical) before columns; the resize ops the reverse."""
    return filter_ == "triangle"
