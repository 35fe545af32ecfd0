"""sanic_app.http.jsonbody: the depth guard counts only structure and refuses past the limit,
scanning a block at a time."""
import json
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sanic_app.core.limits import LimitExceeded, Limits
from sanic_app.http import jsonbody
from sanic_app.http.jsonbody import check_json_depth, json_depth


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
@given(json_values, st.sampled_from([1 << 18, 1, 2, 3, 7]))
def test_json_depth_matches_a_real_parse(value, block):
    """Whatever the block size: quotes, backslash runs and brackets split across blocks too."""
    saved, jsonbody._BLOCK = jsonbody._BLOCK, block
    try:
        assert json_depth(json.dumps(value).encode()) == _true_depth(value)
        # Some encoders escape "/" (so base64 arrives full of "\/"): same depth.
        assert json_depth(json.dumps(value).replace("/", "\\/").encode()) == _true_depth(value)
    finally:
        jsonbody._BLOCK = saved


def test_a_large_body_is_checked_with_temporaries_of_a_block_not_of_the_body():
    """256 images of base64 in {"b64"} objects: more openings than the limit, so the full
    depth scan runs; it allocates a few blocks and the positions, not copies of the body."""
    item = b'{"b64": "' + b"QUJD\\/" * 7000 + b'"}'
    body = b'{"instances": [' + b", ".join([item] * 256) + b"]}"
    assert len(body) > 10_000_000
    tracemalloc.start()
    try:
        check_json_depth(body, 64)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * jsonbody._BLOCK + 64 * 1024, peak  # whole-body temporaries: ~40 MB
    assert json_depth(body) == 3


def test_check_json_depth_refuses_deep_bodies_with_400():
    limits = Limits(max_json_depth=8)
    check_json_depth(b'{"instances": [[[[[[1]]]]]]}', limits.max_json_depth)
    check_json_depth(b'{"x": "' + b"[" * 100 + b'"}', limits.max_json_depth)
    with pytest.raises(LimitExceeded, match="nested 9 levels deep; the limit is 8") as err:
        check_json_depth(b"[" * 9 + b"]" * 9, limits.max_json_depth)
    assert err.value.status == 400
    with pytest.raises(LimitExceeded):
        check_json_depth(b"[" * 1_000_000, limits.max_json_depth)  # unterminated, still no recursion
