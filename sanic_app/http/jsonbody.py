"""JSON bodies both ways, for adapters that write plain compact JSON.

Reading: the depth guard, then orjson, then the tolerant parser. Depth is checked before any
parser recurses into the body. orjson parses the common body; only when it refuses one (NaN /
Infinity literals, which TF Serving accepts) is it parsed again with the standard library, so
the common path pays nothing for that compatibility. Writing: orjson, numpy arrays natively,
bare NaN/Infinity literals when the answer holds them. (TF Serving's own answer layout is
http/tfserving_writer's.)
"""
from __future__ import annotations

import json

import numpy as np
import orjson

from sanic_app.core.limits import LimitExceeded
from sanic_app.errors import InvalidArgument

_NONFINITE = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}

# Byte tricks for the vectorised JSON scan: OR-ing 0x20 folds "[" onto "{" and "]" onto "}",
# and bit 1 tells an opening bracket (0x7B) from a closing one (0x7D).
_FOLD = 0x20
_OPEN_FOLDED, _CLOSE_FOLDED = 0x7B, 0x7D
_QUOTE, _BACKSLASH = 0x22, 0x5C
_SMALL_BODY = 4096  # bytes; where bytes.count stops beating numpy for the bracket count


_BLOCK = 1 << 18  # bytes per vectorised step: the scans' temporaries stay this small


def _blocks(data: np.ndarray):
    """(offset, view) pieces of ``data``. Whole-body temporaries are several times the body:
    ~32 MB (tracemalloc) for a 13.5 MB batch of 256 images, most of its peak RSS."""
    for start in range(0, len(data), _BLOCK):
        yield start, data[start:start + _BLOCK]


def _count_openings(data: np.ndarray) -> int:
    if len(data) <= _BLOCK:  # most bodies: one step, no generator
        return int(np.count_nonzero((data | _FOLD) == _OPEN_FOLDED))
    return sum(int(np.count_nonzero((block | _FOLD) == _OPEN_FOLDED)) for _, block in _blocks(data))


def _where(data: np.ndarray, test) -> np.ndarray:
    """Positions in ``data`` where ``test(block)`` holds, found block by block."""
    if len(data) <= _BLOCK:
        return np.flatnonzero(test(data))
    return np.concatenate([np.flatnonzero(test(block)) + start for start, block in _blocks(data)])


def _is_bracket(block: np.ndarray) -> np.ndarray:
    folded = block | _FOLD
    return (folded == _OPEN_FOLDED) | (folded == _CLOSE_FOLDED)


def _unescaped_quotes(data: np.ndarray) -> np.ndarray:
    """Positions of the quotes that delimit strings (not preceded by an odd backslash run)."""
    quotes = _where(data, lambda block: block == _QUOTE)
    if not quotes.size:
        return quotes
    after_backslash = quotes[(quotes > 0) & (data[np.maximum(quotes - 1, 0)] == _BACKSLASH)]
    if not after_backslash.size:
        return quotes
    backslashes = _where(data, lambda block: block == _BACKSLASH)
    run_starts = backslashes[np.concatenate(([True], np.diff(backslashes) != 1))]
    starts = run_starts[np.searchsorted(run_starts, after_backslash - 1, side="right") - 1]
    escaped = after_backslash[((after_backslash - starts) & 1) == 1]
    return np.setdiff1d(quotes, escaped, assume_unique=True) if escaped.size else quotes


def json_depth(body: bytes | bytearray | memoryview) -> int:
    """Maximum nesting of arrays/objects in a JSON text, without parsing it.

    Brackets inside strings do not count (escaped quotes handled). Works on malformed JSON
    too (then it is an estimate; the parser rejects the body anyway). Vectorised passes over
    the bytes, a block at a time: linear time, no recursion, no per-byte Python, and no
    temporary larger than a block besides the positions of brackets and quotes.
    """
    data = np.frombuffer(body, dtype=np.uint8)
    positions = _where(data, _is_bracket)
    if not positions.size:
        return 0
    quotes = _unescaped_quotes(data)
    if quotes.size:  # inside a string when an odd number of quotes come before
        positions = positions[(np.searchsorted(quotes, positions) & 1) == 0]
        if not positions.size:
            return 0
    steps = (((data[positions] | _FOLD) >> 1) & 1).astype(np.int8) * 2 - 1
    return int(np.cumsum(steps, dtype=np.int64).max())


def check_json_depth(body: bytes | bytearray | memoryview, max_depth: int) -> None:
    """Refuse JSON nested deeper than ``max_depth`` (400), cheaply for ordinary bodies."""
    # Fast path: no more opening brackets than the limit, no deeper nesting. On a small body
    # numpy's per-call overhead is most of the cost and bytes.count makes no arrays (0.2 against
    # 1.7 us for an f32[1,8] body); past a few KB numpy's vectorised scan is the faster one.
    if len(body) <= _SMALL_BODY and isinstance(body, (bytes, bytearray)):
        if body.count(b"[") + body.count(b"{") <= max_depth:
            return
    elif _count_openings(np.frombuffer(body, dtype=np.uint8)) <= max_depth:
        return
    depth = json_depth(body)
    if depth > max_depth:
        raise LimitExceeded(f"JSON nested {depth} levels deep; the limit is {max_depth}", 400, "max_json_depth")


def parse_json(body: bytes, max_depth: int):
    """A JSON document from request bytes; InvalidArgument (400) when it is not one."""
    check_json_depth(body, max_depth)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as first:
        try:
            return json.loads(body, parse_constant=_NONFINITE.__getitem__)
        except (ValueError, UnicodeDecodeError):
            raise InvalidArgument(f"JSON Parse error: {first}") from None


def _default(obj):
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"cannot serialise {type(obj).__name__}")


def _has_nonfinite(obj) -> bool:
    if isinstance(obj, np.ndarray):
        return obj.dtype.kind in "fc" and not np.isfinite(obj).all()
    if isinstance(obj, np.floating):
        return not np.isfinite(obj)
    if isinstance(obj, float):
        return obj != obj or obj in (float("inf"), float("-inf"))
    if isinstance(obj, dict):
        return any(_has_nonfinite(v) for v in obj.values())
    if isinstance(obj, list):
        return any(_has_nonfinite(v) for v in obj)
    return False


def dump_json(body: dict) -> bytes:
    """Compact JSON; NaN/Infinity as bare literals, which needs the slow encoder only then."""
    if _has_nonfinite(body):
        return json.dumps(body, default=_default, allow_nan=True, separators=(",", ":")).encode()
    return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY, default=_default)
