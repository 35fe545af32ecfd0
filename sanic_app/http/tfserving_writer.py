"""Answer bytes laid out exactly as TF Serving's REST API writes them.

TF Serving builds its JSON answers with RapidJSON's PrettyWriter (4-space indent); tensor
values inside "predictions" items are written in single-line mode (", " between items), while
"outputs" (columnar) arrays break a line per item. The tensors themselves go through
fastpack's formatter (compiled, with TF Serving's float rule); this module places them.

Output names keep the order the backend sent them in (TF Serving writes its own map's order,
which is what it puts on the wire too).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from fastpack import _jsonfmt
from sanic_app.errors import InvalidArgument

_INDENT = 4
BYTES_SUFFIX = "_bytes"


def _nl(level: int) -> bytes:
    return b"\n" + b" " * (_INDENT * level)


def value_json(value: Any, level: int, single_line: bool, as_b64: bool = False) -> bytes:
    """Any output value (a numpy tensor, or what a post-processor made) in the writer's layout."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "c":  # TF Serving's writer has no JSON form for complex numbers
            name = {8: "complex64", 16: "complex128"}.get(value.dtype.itemsize, str(value.dtype))
            raise InvalidArgument(f"Failed to write JSON value for tensor type: {name}")
        return _jsonfmt.tensor_json(value, level, single_line, as_b64)
    if isinstance(value, np.generic):
        return _jsonfmt.tensor_json(np.asarray(value), level, single_line, as_b64)
    if isinstance(value, bool):
        return b"true" if value else b"false"
    if isinstance(value, int):
        return b"%d" % value
    if isinstance(value, float):
        return _jsonfmt.float64_text(value)
    if isinstance(value, (str, bytes)):
        return _jsonfmt.string_leaf(value, as_b64, level)
    if value is None:
        return b"null"
    if isinstance(value, dict):
        if not value:
            return b"{}"
        parts = [b"{"]
        for i, (key, item) in enumerate(value.items()):
            parts.append((b"," if i else b"") + _nl(level + 1) + _jsonfmt.json_string(str(key)) + b": ")
            parts.append(value_json(item, level + 1, single_line, as_b64))
        parts.append(_nl(level) + b"}")
        return b"".join(parts)
    if isinstance(value, (list, tuple)):
        if not value:
            return b"[]"
        gap = b", " if single_line else b"," + _nl(level + 1)
        head = b"[" if single_line else b"[" + _nl(level + 1)
        tail = b"]" if single_line else _nl(level) + b"]"
        return head + gap.join(value_json(v, level + 1, single_line, as_b64) for v in value) + tail
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


# ---- JSON quoted in error messages, as TF Serving quotes it (RapidJSON type names) ----

_SHOWN_CHARS = 256  # cut here (TF Serving quotes a value whole, however long)


def json_type(value) -> str:
    """RapidJSON's name for a JSON value's type, as TF Serving's messages print it."""
    if value is None:
        return "Null"
    if value is True:
        return "True"
    if value is False:
        return "False"
    if isinstance(value, dict):
        return "Object"
    if isinstance(value, list):
        return "Array"
    if isinstance(value, str):
        return "String"
    return "Number"


def json_text(value) -> str:
    text = value_json(value, 0, False).decode("utf-8", "replace")
    return text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + "...(cut)"


def _is_bytes_output(name: str, value) -> bool:
    # TF Serving's rule: a DT_STRING tensor whose name ends in _bytes is written as {"b64"}
    return name.endswith(BYTES_SUFFIX) and isinstance(value, np.ndarray) and value.dtype == object


def _batch(name: str, value) -> int:
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            raise InvalidArgument(f"Tensor name: {name} has no shape information "
                                  "(a scalar output has no batch dimension to split into "
                                  "predictions; use the columnar \"inputs\" form)")
        return int(value.shape[0])
    if isinstance(value, (list, tuple)):
        return len(value)
    raise InvalidArgument(f"Tensor name: {name} has no shape information "
                          "(use the columnar \"inputs\" form)")


def predictions_body(outputs: dict[str, Any]) -> bytes:
    """Row format: {"predictions": [...]}, one item per example; several outputs make each
    item an object keyed by output name."""
    batch = -1
    for name, value in outputs.items():
        size = _batch(name, value)
        if batch >= 0 and size != batch:
            raise InvalidArgument(
                f"Tensor name: {name} has inconsistent batch size: {size} expecting: {batch} "
                "(outputs differ in their first dimension; use the columnar \"inputs\" form)")
        batch = size
    head = b"{" + _nl(1) + b'"predictions": '
    if batch == 0:
        return head + b"[]" + _nl(0) + b"}"
    if len(outputs) == 1:
        ((name, value),) = outputs.items()
        # the whole batch in single-line mode is "[item, item, ...]"; the closing bracket of
        # "predictions" is written after the mode is switched back, on its own line
        body = value_json(value, 1, True, _is_bytes_output(name, value))
        return head + body[:-1] + _nl(1) + b"]" + _nl(0) + b"}"
    names = list(outputs)
    as_b64 = {name: _is_bytes_output(name, outputs[name]) for name in names}
    items = []
    for i in range(batch):
        fields = [_nl(3) + _jsonfmt.json_string(name) + b": "
                  + value_json(outputs[name][i], 3, True, as_b64[name]) for name in names]
        items.append(_nl(2) + b"{" + b",".join(fields) + _nl(2) + b"}")
    return head + b"[" + b",".join(items) + _nl(1) + b"]" + _nl(0) + b"}"


def outputs_body(outputs: dict[str, Any]) -> bytes:
    """Columnar format: {"outputs": value} for one output, {"outputs": {name: value}} else;
    arrays break a line per item (PrettyWriter's default mode)."""
    head = b"{" + _nl(1) + b'"outputs": '
    if len(outputs) == 1:
        ((name, value),) = outputs.items()
        return head + value_json(value, 1, False, _is_bytes_output(name, value)) + _nl(0) + b"}"
    fields = [_nl(2) + _jsonfmt.json_string(name) + b": "
              + value_json(value, 2, False, _is_bytes_output(name, value))
              for name, value in outputs.items()]
    return head + b"{" + b",".join(fields) + _nl(1) + b"}" + _nl(0) + b"}"


def classify_body(results: list[list[tuple[bytes | str, float]]]) -> bytes:
    """{"results": [[[label, score], ...], ...]}: one list of classes per example."""
    if not results:
        raise InvalidArgument("Cannot convert empty ClassificationResults to JSON")
    # each example's list is opened in single-line mode, so they follow one another on the
    # first line; only the closing bracket of "results" gets a line of its own
    items = []
    for classes in results:
        pairs = [b"[" + _jsonfmt.json_string(label) + b", " + _jsonfmt.float32_text(score) + b"]"
                 for label, score in classes]
        items.append(b"[" + b", ".join(pairs) + b"]")
    return b"{" + _nl(1) + b'"results": [' + b", ".join(items) + _nl(1) + b"]" + _nl(0) + b"}"


def regress_body(values) -> bytes:
    """{"results": [v, ...]}: one float per example, all on one line."""
    if len(values) == 0:
        raise InvalidArgument("Cannot convert empty RegressionResults to JSON")
    text = _jsonfmt.tensor_json(np.asarray(values, dtype=np.float32), 1, True)
    return b"{" + _nl(1) + b'"results": ' + text + _nl(0) + b"}"



