"""TF Serving's rules for JSON values of a tensor, and its words when one breaks them.

From json_tensor.cc: a float tensor takes JSON numbers only (not booleans or strings), an
integer tensor integers only; integers a float cannot hold exactly (past 2^24 - 1, or 2^53 - 1
for double) and finite decimals past float's range are refused "without loss of precision".
The decode stage (core/decode) asks these; the messages start with TF Serving's words and the
caller appends the gateway's own detail.
"""
from __future__ import annotations

import numpy as np
import orjson

from fastpack._jsonfmt import float64_text
from sanic_app.errors import InvalidArgument

# TF Serving's names for dtypes in its messages (DataTypeString)
_TF_DTYPE_NAMES = {"float32": "float", "float64": "double", "float16": "half"}


def _json_type(value) -> str:
    """RapidJSON's type names, as TF Serving's messages print them."""
    if value is None:
        return "Null"
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, (int, float)):
        return "Number"
    return {str: "String", dict: "Object", list: "Array"}.get(type(value), type(value).__name__)


def _fits(leaf, want: np.dtype) -> bool:
    if isinstance(leaf, bool):
        return want.kind == "b"
    if isinstance(leaf, int):
        return want.kind in "fiu"
    if isinstance(leaf, float):
        return want.kind == "f"
    return False


def tf_type_error(value, want: np.dtype) -> str:
    """TF Serving's words for the first JSON value that is not of the wanted type, as a
    prefix for the gateway's own message ("" when no single value is to blame)."""
    stack = [value]
    while stack:
        leaf = stack.pop()
        if isinstance(leaf, list):
            stack.extend(reversed(leaf))
            continue
        if not _fits(leaf, want):
            shown = orjson.dumps(leaf).decode() if isinstance(leaf, (str, dict, bool, int, float)) or leaf is None else repr(leaf)
            if len(shown) > 64:
                shown = shown[:64] + "..."
            name = _TF_DTYPE_NAMES.get(want.name, want.name)
            return f"JSON Value: {shown} Type: {_json_type(leaf)} is not of expected type: {name}; "
    return ""



# TF Serving refuses JSON numbers a float tensor cannot hold: integers beyond the mantissa
# (2^24 - 1 for float, 2^53 - 1 for double) and finite decimals beyond float's range.
_LOSSLESS_INT = {4: 2**24 - 1, 8: 2**53 - 1}
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_max, _min = np.maximum.reduce, np.minimum.reduce


def check_lossless(arr: np.ndarray, want: np.dtype, where: str) -> None:
    # Per request on every numeric input: ufunc reductions (not arr.max(), which goes through
    # numpy's Python wrappers) and the dtype's name only when a message needs it.
    if arr.dtype.kind in "iu":
        limit = _LOSSLESS_INT[want.itemsize]
        if int(_max(arr, axis=None)) > limit or int(_min(arr, axis=None)) < -limit:
            name = _TF_DTYPE_NAMES.get(want.name, want.name)
            bad = int(arr.flat[np.flatnonzero((arr > limit) | (arr < -limit))[0]])
            raise InvalidArgument(f"Cannot convert JSON value: {bad} to {name} without loss of "
                                  f"precision. ({where}: integers beyond {limit} are not exact in {want.name})")
        return
    if want.itemsize != 4:
        return
    # false also for NaN (and past the range for Infinity): look closer
    if _max(arr, axis=None) <= _FLOAT32_MAX and _min(arr, axis=None) >= -_FLOAT32_MAX:
        return
    finite = np.isfinite(arr)
    over = finite & (np.abs(np.where(finite, arr, 0.0)) > _FLOAT32_MAX)
    if over.any():
        name = _TF_DTYPE_NAMES.get(want.name, want.name)
        bad = float64_text(arr.flat[np.flatnonzero(over)[0]]).decode()
        raise InvalidArgument(f"Cannot convert JSON value: {bad} to {name} without loss of precision. "
                              f"({where}: beyond float32's range)")
