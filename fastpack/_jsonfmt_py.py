"""Tensors -> JSON text laid out as TF Serving's REST API writes it (the readable twin).

TF Serving writes answers with RapidJSON's PrettyWriter (4-space indent) and its own number
rule (json_tensor.cc, WriteDecimal): a float is printed with six significant digits ("%g")
when that text reads back as the same float, else with max_digits10 (9 for float32, 17 for
float64); ".0" is added when the text has neither "." nor "e"; non-finite values are the bare
literals NaN, Infinity, -Infinity. Integers and booleans are plain; strings are escaped as
RapidJSON escapes them (control characters, '"' and '\\' only; UTF-8 passes through).

``tensor_json(array, level, single_line, as_b64)`` writes one tensor value whose first byte
goes where the caller's writer stands: ``level`` is the number of containers open around it
(RapidJSON indents by that), ``single_line`` is RapidJSON's kFormatSingleLineArray (arrays
on one line, ", " between items; objects still break lines). The compiled twin
(``_jsonfmt_c``) gives the same bytes, faster; ``fastpack._jsonfmt`` picks one.
"""
from __future__ import annotations

import math
import re

import numpy as np
import pybase64

INDENT = 4
_ESCAPES = {0x08: b"\\b", 0x09: b"\\t", 0x0A: b"\\n", 0x0C: b"\\f", 0x0D: b"\\r",
            0x22: b'\\"', 0x5C: b"\\\\"}
_NEEDS_ESCAPE = re.compile(rb'[\x00-\x1f"\\]')


def _escape_byte(match) -> bytes:
    code = match.group()[0]
    return _ESCAPES.get(code) or b"\\u00%02X" % code


def json_string(raw: bytes | str) -> bytes:
    """A JSON string as RapidJSON's Writer writes it (bytes pass through unvalidated)."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    return b'"' + _NEEDS_ESCAPE.sub(_escape_byte, raw) + b'"'


def _decimal(value: float, digits: int, reads_back) -> bytes:
    if math.isnan(value):
        return b"NaN"
    if math.isinf(value):
        return b"-Infinity" if value < 0 else b"Infinity"
    # printf's %g, as TF Serving's absl::StrCat / StrFormat give it
    text = "%.6g" % value  # noqa: UP031
    if reads_back(text) != value:
        text = "%.*g" % (digits, value)  # noqa: UP031
    if "." not in text and "e" not in text:
        text += ".0"
    return text.encode("ascii")


def float32_text(value) -> bytes:
    """One float32 as TF Serving writes it: 9e+06, 3e-05, 1435774336.0, 3.14159274."""
    return _decimal(float(value), 9, lambda s: float(np.float32(s)))


def float64_text(value) -> bytes:
    return _decimal(float(value), 17, float)


def _leaf_writer(dtype: np.dtype, as_b64: bool, level: int):
    kind = dtype.kind
    if kind == "f":
        return float64_text if dtype.itemsize == 8 else float32_text
    if kind == "b":
        return lambda v: b"true" if v else b"false"
    if kind in "iu":
        return lambda v: b"%d" % v
    if kind == "O" or kind in "SU":
        return lambda v: string_leaf(v, as_b64, level)
    raise TypeError(f"no JSON form for dtype {dtype}")


def string_leaf(value, as_b64: bool, level: int) -> bytes:
    """A DT_STRING element: text, or {"b64": ...} (names ending in _bytes; and bytes that are
    not UTF-8, which TF Serving would write unescaped, making its answer invalid JSON)."""
    if isinstance(value, str):
        value = value.encode("utf-8")
    if not as_b64:
        try:
            value.decode("utf-8")
            return json_string(value)
        except UnicodeDecodeError:
            pass
    # an object inside the writer: its key on its own line, indented one level deeper
    inner = b"\n" + b" " * (INDENT * (level + 1))
    return (b"{" + inner + b'"b64": ' + json_string(pybase64.b64encode(value))
            + b"\n" + b" " * (INDENT * level) + b"}")


def tensor_json(array: np.ndarray, level: int = 0, single_line: bool = True,
                as_b64: bool = False) -> bytes:
    """One tensor as nested JSON arrays in TF Serving's layout (a rank-0 tensor: its value)."""
    array = np.asarray(array)
    if array.dtype == np.float16:
        array = array.astype(np.float32)
    out: list[bytes] = []

    def walk(values, depth: int, lvl: int) -> None:
        if depth == array.ndim:
            out.append(leaf_at[lvl](values))
            return
        if len(values) == 0:
            out.append(b"[]")
            return
        out.append(b"[")
        gap = b", " if single_line else b",\n" + b" " * (INDENT * (lvl + 1))
        if not single_line:
            out.append(b"\n" + b" " * (INDENT * (lvl + 1)))
        for i, item in enumerate(values):
            if i:
                out.append(gap)
            walk(item, depth + 1, lvl + 1)
        if not single_line:
            out.append(b"\n" + b" " * (INDENT * lvl))
        out.append(b"]")

    # a string leaf's {"b64"} object indents by the level it sits at
    leaf_at = {lvl: _leaf_writer(array.dtype, as_b64, lvl) for lvl in range(level, level + array.ndim + 1)}
    walk(array.tolist() if array.ndim else array.item(), 0, level)
    return b"".join(out)


__all__ = ["float32_text", "float64_text", "json_string", "string_leaf", "tensor_json"]
