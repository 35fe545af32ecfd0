"""What both image-kernel implementations share: input checks, the per-size plan, ImageBatch.

``_kernel_py`` (numpy) and ``_kernel_c`` (Cython) differ only in ``write_image``, the function that
turns one checked source image and its plan into tensor bytes; everything that decides *what*
to compute lives here, once, so the two cannot disagree about it.
"""
import sys
from dataclasses import dataclass
from functools import lru_cache
from math import prod
from typing import Callable, Sequence

import numpy as np

from fastpack import _kernel_tables as tables
from fastpack.errors import PreprocessError
from fastpack.imageparams import MAX_ELEMENTS, PreprocessParams

MAX_SOURCE_SIDE = 1 << 16
MAX_SOURCE_PIXELS = 1 << 28

LAYOUT_CODES = {"NHWC": 0, "NCHW": 1}
DTYPE_CODES = {"float32": 0, "float16": 1, "uint8": 2}

# ITU-R 601-2 luma in 16-bit fixed point, rounded: bit-exact with Pillow's convert("L").
LUMA_R, LUMA_G, LUMA_B, LUMA_ROUND, LUMA_SHIFT = 19595, 38470, 7471, 0x8000, 16


def _check_size(height: int, width: int, index: int) -> None:
    if height < 1 or width < 1:
        raise PreprocessError(f"image {index} is empty ({height}x{width})")
    if height > MAX_SOURCE_SIDE or width > MAX_SOURCE_SIDE or height * width > MAX_SOURCE_PIXELS:
        raise PreprocessError(
            f"image {index} is {height}x{width}; the limit is {MAX_SOURCE_SIDE} per side and "
            f"{MAX_SOURCE_PIXELS} pixels"
        )


def _pillow_image_class():
    """PIL.Image.Image if Pillow is loaded; an object cannot be a Pillow image otherwise."""
    module = sys.modules.get("PIL.Image")
    return getattr(module, "Image", None)


def pillow_source(image, index: int = 0, borrow: Callable | None = None):
    """A Pillow image of mode "RGB" or "L": its pixels borrowed by ``borrow`` (the compiled
    kernel reads Pillow's own memory, no copy) or, failing that, copied into an (H, W, C) array."""
    if image.mode not in ("RGB", "L"):
        raise PreprocessError(f"image {index} is a Pillow image of mode {image.mode!r}; "
                              "convert it to \"RGB\" or \"L\" first")
    width, height = image.size
    _check_size(height, width, index)
    borrowed = borrow(image) if borrow is not None else None
    if borrowed is not None:
        return borrowed
    pixels = np.asarray(image)
    return np.ascontiguousarray(pixels.reshape(height, width, -1))


def check_source(image, index: int = 0, borrow: Callable | None = None):
    """One decoded image as a C-contiguous uint8 (H, W, C) array with C in {1, 3}, or a
    Pillow "RGB"/"L" image's pixels (see ``pillow_source``)."""
    if not isinstance(image, np.ndarray):
        pillow_image = _pillow_image_class()
        if pillow_image is not None and isinstance(image, pillow_image):
            return pillow_source(image, index, borrow)
        raise PreprocessError(f"image {index} must be a numpy array, not {type(image).__name__}")
    if image.dtype != np.uint8:
        raise PreprocessError(f"image {index} must hold uint8 pixels, not {image.dtype}")
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 3):
        raise PreprocessError(
            f"image {index} must be HxW or HxWxC with C 1 or 3; got shape {image.shape}"
        )
    _check_size(*image.shape[:2], index)
    return np.ascontiguousarray(image)


@dataclass(frozen=True)
class ImagePlan:
    """Everything the arithmetic needs for one (params, source size) pair; cached."""

    rows: "tables.AxisTable"  # vertical resampling
    cols: "tables.AxisTable"  # horizontal resampling
    post_scale: np.float32  # applied after both passes (area only; else 1)
    vertical_first: bool  # ScaleAndTranslate order (antialias) vs the resize ops' order
    to_gray: bool  # convert RGB source to Pillow "L" luma before resampling
    channel_map: np.ndarray  # int32 [out_c]: resampled channel feeding each output channel
    mul: np.ndarray  # float32 [out_c]: scale / std
    add: np.ndarray  # float32 [out_c]: -mean / std
    layout: int  # LAYOUT_CODES
    dtype: int  # DTYPE_CODES


@lru_cache(maxsize=64)
def _affine(params: PreprocessParams):
    """(mul, add) with value = pixel * mul + add; computed in float64, rounded once to float32."""
    mul = np.array([params.scale / s for s in params.std], dtype=np.float32)
    add = np.array([-m / s for m, s in zip(params.mean, params.std)], dtype=np.float32)
    mul.flags.writeable = add.flags.writeable = False
    return mul, add


@lru_cache(maxsize=256)
def image_plan(params: PreprocessParams, in_h: int, in_w: int, in_c: int) -> ImagePlan:
    """The plan for a source of (in_h, in_w, in_c) after any Pillow pre-resize."""
    to_gray = params.color == "grayscale" and in_c == 3
    if params.color == "grayscale" or in_c == 1:
        channel_map = [0] * params.channels
    elif params.color == "bgr":
        channel_map = [2, 1, 0]
    else:
        channel_map = [0, 1, 2]
    channel_map = np.array(channel_map, dtype=np.int32)
    channel_map.flags.writeable = False
    filter_ = tables.filter_name(params.method, params.antialias)
    rows = tables.axis_table(filter_, in_h, params.height)
    cols = tables.axis_table(filter_, in_w, params.width)
    post = np.float32(1.0)
    if filter_ == "area":
        post = tables.area_post_scale(in_h, in_w, params.height, params.width)
    mul, add = _affine(params)
    return ImagePlan(
        rows, cols, post, tables.uses_vertical_first(filter_), to_gray, channel_map, mul, add,
        LAYOUT_CODES[params.layout], DTYPE_CODES[params.dtype],
    )


def pillow_resized(source, params: PreprocessParams) -> np.ndarray:
    """Pillow's own colour conversion and resize(BILINEAR): the "pillow" method's pixels."""
    from PIL import Image  # only the "pillow" method needs it

    if not isinstance(source, np.ndarray):  # borrowed pixels: resize the Pillow image itself
        image = source.image
        if params.color == "grayscale" and image.mode != "L":
            image = image.convert("L")
    elif source.shape[2] == 1:
        image = Image.fromarray(source[:, :, 0])  # 2-D uint8: mode "L"
    else:
        image = Image.fromarray(source)  # (H, W, 3) uint8: mode "RGB"
        if params.color == "grayscale":
            image = image.convert("L")
    if image.size != (params.width, params.height):
        image = image.resize((params.width, params.height), Image.Resampling.BILINEAR)
    pixels = np.asarray(image)
    return np.ascontiguousarray(pixels.reshape(pixels.shape[0], pixels.shape[1], -1))


def prepare(source: np.ndarray, params: PreprocessParams):
    """(pixels, plan) for one checked source image."""
    if params.method == "pillow":
        source = pillow_resized(source, params)  # now exactly the target size; plan is identity
    height, width, channels = source.shape
    return source, image_plan(params, height, width, channels)


def writable_bytes(buf, nbytes: int) -> memoryview:
    """``buf`` as a flat writable byte view of exactly ``nbytes`` bytes, or PreprocessError."""
    try:
        view = memoryview(buf)
    except TypeError:
        raise PreprocessError(f"write_into needs a buffer, not {type(buf).__name__}") from None
    if view.readonly:
        raise PreprocessError("write_into needs a writable buffer")
    if not view.c_contiguous:
        raise PreprocessError("write_into needs a contiguous buffer")
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B")
    if view.nbytes != nbytes:
        raise PreprocessError(f"buffer holds {view.nbytes} bytes; the batch needs {nbytes}")
    return view


class ImageBatchBase:
    """A TensorWriter for several images: each one's pixels go straight into its slice.

    Subclasses set ``write_image(source, params, dest)`` and may set ``borrow_pillow(image)``
    (pixels of a Pillow image without a copy, or None); the images are checked here, at
    construction, so a bad image is refused before any request bytes are laid out.
    """

    write_image: Callable = None
    borrow_pillow: Callable = None
    __slots__ = ("params", "dtype", "shape", "_sources", "_nbytes")

    def __init__(self, images: Sequence[np.ndarray], params: PreprocessParams):
        if not isinstance(params, PreprocessParams):
            raise PreprocessError(f"params must be PreprocessParams, not {type(params).__name__}")
        if isinstance(images, np.ndarray) and images.ndim == 4:
            images = list(images)  # an (N, H, W, C) stack is N images
        elif isinstance(images, (np.ndarray, str, bytes)) or not hasattr(images, "__len__"):
            raise PreprocessError("images must be a sequence of arrays (or an NHWC stack)")
        borrow = type(self).borrow_pillow
        self._sources = [check_source(image, i, borrow) for i, image in enumerate(images)]
        if not self._sources:
            raise PreprocessError("no images to preprocess")
        self.params = params
        self.dtype = params.numpy_dtype
        self.shape = params.batch_shape(len(self._sources))
        if prod(self.shape) > MAX_ELEMENTS:
            raise PreprocessError(f"batch {self.shape} is over {MAX_ELEMENTS} elements")
        self._nbytes = prod(self.shape) * self.dtype.itemsize  # once: write_into runs per request

    @property
    def nbytes(self) -> int:
        return self._nbytes

    def __len__(self) -> int:
        return len(self._sources)

    def write_into(self, buf) -> None:
        """Fill ``buf`` (exactly ``nbytes`` writable bytes) with the batch, in C order."""
        view = writable_bytes(buf, self._nbytes)
        write_image = type(self).write_image
        if len(self._sources) == 1:  # the usual request: the whole view is the image's slice
            write_image(self._sources[0], self.params, view)
            return
        per_image = self._nbytes // len(self._sources)
        for i, source in enumerate(self._sources):
            write_image(source, self.params, view[i * per_image:(i + 1) * per_image])

    def __repr__(self) -> str:
        return f"{type(self).__name__}(shape={self.shape}, dtype={self.dtype}, params={self.params})"


def make_preprocess(batch_class):
    """``preprocess(images, params)`` for one implementation's ImageBatch."""

    def preprocess(images, params) -> np.ndarray:
        """Preprocess ``images`` into a new batch array of ``params``' shape and dtype."""
        batch = batch_class(images, params)
        out = np.empty(batch.shape, dtype=batch.dtype)
        batch.write_into(out.reshape(-1).view(np.uint8))
        return out

    return preprocess
