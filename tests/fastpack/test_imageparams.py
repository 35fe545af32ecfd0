"""PreprocessParams: checked at construction, normalised per channel, bounded sizes."""
import dataclasses

import numpy as np
import pytest

from fastpack import PreprocessError, PreprocessParams
from fastpack.imageparams import MAX_ELEMENTS, MAX_SIDE


def test_defaults_and_shapes():
    params = PreprocessParams(299, 224)
    assert (params.method, params.antialias, params.color) == ("bilinear", False, "rgb")
    assert params.mean == (0.0, 0.0, 0.0) and params.std == (1.0, 1.0, 1.0)
    assert params.numpy_dtype == np.dtype("<f4")
    assert params.image_shape() == (299, 224, 3)
    assert params.batch_shape(4) == (4, 299, 224, 3)
    nchw = PreprocessParams(8, 9, color="grayscale", layout="NCHW", dtype="float16")
    assert nchw.batch_shape(2) == (2, 1, 8, 9)
    assert nchw.numpy_dtype == np.dtype("<f2")
    assert PreprocessParams(1, 1, dtype="uint8").numpy_dtype == np.uint8


def test_mean_std_broadcast_and_per_channel():
    params = PreprocessParams(4, 4, mean=[0.485, 0.456, 0.406], std=0.5, scale=1 / 255)
    assert params.mean == (0.485, 0.456, 0.406)
    assert params.std == (0.5, 0.5, 0.5)
    assert PreprocessParams(4, 4, color="grayscale", mean=[3]).mean == (3.0,)
    assert PreprocessParams(4, 4, mean=np.float32(1.5)).mean == (1.5, 1.5, 1.5)


def test_frozen_and_hashable():
    params = PreprocessParams(4, 4)
    with pytest.raises(dataclasses.FrozenInstanceError):
        params.height = 5
    assert hash(params) == hash(PreprocessParams(4, 4, mean=[0.0, 0.0, 0.0]))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(height=0, width=4), "height"),
        (dict(height=4, width=-1), "width"),
        (dict(height=MAX_SIDE + 1, width=4), "height"),
        (dict(height=4.0, width=4), "height"),
        (dict(height=True, width=4), "height"),
        (dict(height="4", width=4), "height"),
        (dict(height=MAX_SIDE, width=MAX_SIDE), "output elements"),
        (dict(height=4, width=4, method="bicubic"), "method"),
        (dict(height=4, width=4, color="hsv"), "color"),
        (dict(height=4, width=4, layout="HWC"), "layout"),
        (dict(height=4, width=4, dtype="int8"), "dtype"),
        (dict(height=4, width=4, antialias="yes"), "antialias"),
        (dict(height=4, width=4, scale=float("nan")), "scale"),
        (dict(height=4, width=4, scale="1"), "scale"),
        (dict(height=4, width=4, mean=(1.0, 2.0)), "mean"),
        (dict(height=4, width=4, mean=(float("inf"),)), "mean"),
        (dict(height=4, width=4, std=(1.0, 0.0, 1.0)), "std"),
        (dict(height=4, width=4, color="grayscale", std=(1.0, 1.0, 1.0)), "std"),
    ],
)
def test_bad_params_are_refused_clearly(kwargs, message):
    with pytest.raises(PreprocessError, match=message):
        PreprocessParams(**kwargs)


def test_element_limit_is_what_is_checked():
    side = int((MAX_ELEMENTS // 3) ** 0.5)
    PreprocessParams(side, side)  # just under: fine
    with pytest.raises(PreprocessError, match="output elements"):
        PreprocessParams(side + 1, side + 1)
