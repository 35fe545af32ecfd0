"""Unit tests for sanic_app.core.limits: each check refuses just past its limit, with a message."""
import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from sanic_app.core.limits import (
    InFlightLimiter,
    LimitExceeded,
    Limits,
    apply_pillow_limit,
    check_batch,
    check_inputs,
    check_json_depth,
    json_depth,
)


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


@pytest.mark.parametrize(
    "text, depth",
    [
        (b"", 0),
        (b"3", 0),
        (b"[]", 1),
        (b'{"a": [1, [2, [3]]]}', 4),
        (b'{"s": "[[[[[[", "t": "}}}}"}', 1),
        (b'{"s": "\\"[[[[", "t": [[1]]}', 3),
        (b'{"a": "\\\\", "b": [[]]}', 3),
        (b"[" * 5000 + b"]" * 5000, 5000),
    ],
)
def test_json_depth_counts_only_structure(text, depth):
    assert json_depth(text) == depth


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='ab[]{}"\\/ \n'),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(alphabet='k[{"\\', max_size=3), children, max_size=3),
    max_leaves=30,
)


def _true_depth(value):
    if isinstance(value, list):
        return 1 + max((_true_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_true_depth(v) for v in value.values()), default=0)
    return 0


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_json_depth_matches_a_real_parse(value):
    assert json_depth(json.dumps(value).encode()) == _true_depth(value)
    # Some encoders escape "/" (so base64 arrives full of "\/"): same depth.
    assert json_depth(json.dumps(value).replace("/", "\\/").encode()) == _true_depth(value)


def test_check_json_depth_refuses_deep_bodies_with_400():
    limits = Limits(max_json_depth=8)
    check_json_depth(b'{"instances": [[[[[[1]]]]]]}', limits)
    check_json_depth(b'{"x": "' + b"[" * 100 + b'"}', limits)
    with pytest.raises(LimitExceeded, match="nested 9 levels deep; the limit is 8") as err:
        check_json_depth(b"[" * 9 + b"]" * 9, limits)
    assert err.value.status == 400
    with pytest.raises(LimitExceeded):
        check_json_depth(b"[" * 1_000_000, limits)  # unterminated, still no recursion


def test_in_flight_limiter_refuses_past_limit_and_recovers():
    limiter = InFlightLimiter(2)
    assert limiter.try_acquire() and limiter.try_acquire()
    assert not limiter.try_acquire()
    assert limiter.current == 2 and limiter.refused == 1
    limiter.release()
    assert limiter.try_acquire()
    limiter.release(), limiter.release(), limiter.release()
    assert limiter.current == 0
    with pytest.raises(ValueError):
        InFlightLimiter(0)
