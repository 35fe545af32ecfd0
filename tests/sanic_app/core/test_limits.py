"""Unit tests for sanic_app.core.limits: each check refuses just past its limit, with a message."""
import io
import pytest
from PIL import Image

from sanic_app.config import Settings
from sanic_app.core.limits import LimitExceeded, Limits, apply_pillow_limit, check_batch, check_inputs


def _png(width, height, mode="L"):
    out = io.BytesIO()
    Image.new(mode, (width, height)).save(out, format="PNG", optimize=True)
    return out.getvalue()


def test_limits_reject_non_positive_values():
    with pytest.raises(ValueError, match="max_batch"):
        Limits(max_batch=0)
    with pytest.raises(ValueError, match="max_inputs"):
        Limits(max_inputs=True)


def test_batch_and_inputs_limits_are_inclusive():
    limits = Limits(max_batch=4, max_inputs=2)
    check_batch(4, limits)
    check_inputs(2, limits)
    with pytest.raises(LimitExceeded, match="batch size 5 exceeds the limit of 4") as err:
        check_batch(5, limits)
    assert err.value.status == 413 and err.value.limit == "max_batch"
    with pytest.raises(LimitExceeded, match="3 inputs") as err:
        check_inputs(3, limits)
    assert err.value.status == 413


def test_pillow_limit_follows_ours(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)
    apply_pillow_limit(Limits(max_image_pixels=1000))
    assert Image.MAX_IMAGE_PIXELS == 1000
    # A 100x100 PNG is 10x our limit: Pillow refuses it from the header alone.
    with pytest.raises(Image.DecompressionBombError, match="10000 pixels"):
        Image.open(io.BytesIO(_png(100, 100)))


def test_defaults_come_from_settings():
    settings = Settings(max_batch=7, max_json_depth=9)
    assert Limits() == Limits.from_settings(Settings())
    assert Limits.from_settings(settings).max_batch == 7 and Limits.from_settings(settings).max_json_depth == 9
