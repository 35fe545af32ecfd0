"""PreprocessParams: what the image kernel must turn decoded pixels into, checked once up front.

Validating at construction means a bad model spec fails when the gateway loads it, not on the
first request, and the kernel itself can trust every field. Sizes are bounded here because a spec
(or a request that picks one) is untrusted input too.
"""
import math
from dataclasses import dataclass
from numbers import Real
from typing import Tuple

import numpy as np

from fastpack.errors import PreprocessError

MAX_SIDE = 16384  # per output side
MAX_ELEMENTS = 1 << 28  # per output tensor (1 GiB of float32)

METHODS = ("bilinear", "nearest", "area", "pillow")
COLORS = ("rgb", "bgr", "grayscale")
LAYOUTS = ("NHWC", "NCHW")
DTYPES = {"float32": np.dtype("<f4"), "float16": np.dtype("<f2"), "uint8": np.dtype("u1")}


def _side(name, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise PreprocessError(f"{name} must be an integer, not {value!r}")
    value = int(value)
    if not 1 <= value <= MAX_SIDE:
        raise PreprocessError(f"{name} must be between 1 and {MAX_SIDE}, not {value}")
    return value


def _real(name, value) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise PreprocessError(f"{name} must be a number, not {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise PreprocessError(f"{name} must be finite, not {value}")
    return value


def _per_channel(name, values, channels) -> Tuple[float, ...]:
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
        values = (values,)
    items = tuple(_real(f"{name}[{i}]", v) for i, v in enumerate(values))
    if len(items) == 1:
        items = items * channels
    if len(items) != channels:
        raise PreprocessError(
            f"{name} needs 1 or {channels} values for {channels} output channels, not {len(items)}"
        )
    return items


def _choice(name, value, allowed):
    if value not in allowed:
        raise PreprocessError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")
    return value


@dataclass(frozen=True)
class PreprocessParams:
    """How one image becomes one model input: resize, colour, normalise, lay out, convert.

    value = (pixel * scale - mean[c]) / std[c], computed in float32 as
    ``pixel * (scale / std[c]) + (-mean[c] / std[c])``. ``mean`` and ``std`` take one value
    (used for every channel) or one per output channel; they are stored per channel.

    method: "bilinear", "nearest" and "area" reproduce ``tf.image.resize`` (TensorFlow 2,
    half-pixel centres); ``antialias`` only changes "bilinear" (a scaled triangle filter when
    downscaling, as TF's antialias=True), as in TF. "pillow" is Pillow's own
    ``resize(Image.BILINEAR)``, for models trained on Pillow-resized images.
    color: "grayscale" converts RGB input by ITU-R 601-2 luma exactly as Pillow's "L" mode does
    (integer, before resizing); 1-channel input is accepted for every colour (copied to all three
    channels for "rgb"/"bgr", as Pillow's convert("RGB") does).
    dtype "uint8": the normalised value is rounded half-to-even and clamped to 0..255.
    """

    height: int
    width: int
    method: str = "bilinear"
    antialias: bool = False
    color: str = "rgb"
    scale: float = 1.0
    mean: Tuple[float, ...] = (0.0,)
    std: Tuple[float, ...] = (1.0,)
    layout: str = "NHWC"
    dtype: str = "float32"

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "height", _side("height", self.height))
        set_(self, "width", _side("width", self.width))
        _choice("method", self.method, METHODS)
        if not isinstance(self.antialias, (bool, np.bool_)):
            raise PreprocessError(f"antialias must be true or false, not {self.antialias!r}")
        set_(self, "antialias", bool(self.antialias))
        _choice("color", self.color, COLORS)
        _choice("layout", self.layout, LAYOUTS)
        _choice("dtype", self.dtype, tuple(DTYPES))
        set_(self, "scale", _real("scale", self.scale))
        channels = self.channels
        set_(self, "mean", _per_channel("mean", self.mean, channels))
        std = _per_channel("std", self.std, channels)
        if any(s == 0.0 for s in std):
            raise PreprocessError("std values must not be zero")
        set_(self, "std", std)
        if self.height * self.width * channels > MAX_ELEMENTS:
            raise PreprocessError(
                f"{self.height}x{self.width}x{channels} is over {MAX_ELEMENTS} output elements"
            )

    @property
    def channels(self) -> int:
        """Channels of the model input: 1 for grayscale, else 3."""
        return 1 if self.color == "grayscale" else 3

    @property
    def numpy_dtype(self) -> np.dtype:
        """The output dtype, little-endian as tensor_content requires."""
        return DTYPES[self.dtype]

    def image_shape(self) -> Tuple[int, int, int]:
        """Shape of one image's slice of the batch tensor, in the chosen layout."""
        if self.layout == "NHWC":
            return (self.height, self.width, self.channels)
        return (self.channels, self.height, self.width)

    def batch_shape(self, n: int) -> Tuple[int, ...]:
        """Shape of the tensor holding ``n`` images."""
        return (int(n),) + self.image_shape()


__all__ = ["PreprocessParams", "MAX_SIDE", "MAX_ELEMENTS", "METHODS", "COLORS", "LAYOUTS", "DTYPES"]
