"""What both wire codecs (``_codec_py`` and ``_codec_c``) share: limits, ModelSpec, and how a
Python value becomes (DataType, shape, payload) before encoding.

The compiled codec takes its fast path for contiguous numeric arrays itself and hands every
other value (strings, TensorWriters, big-endian, strided, lists) to ``tensor_plan`` here, so the
two codecs accept and reject exactly the same values.
"""
from typing import NamedTuple, Optional

import numpy as np

from fastpack.dtypes import DataType, to_datatype
from fastpack.errors import EncodeError

# A forged shape with one broadcast value could otherwise ask for any amount of memory.
MAX_DECODED_BYTES = 1 << 30
MAX_RANK = 64  # numpy's own limit


class ModelSpec(NamedTuple):
    """The model a PredictResponse says answered (TF Serving's ModelSpec)."""

    name: str
    version: Optional[int]
    version_label: Optional[str]
    signature_name: str


def _string_items(arr: np.ndarray) -> list:
    items = []
    for item in arr.reshape(-1).tolist():
        if isinstance(item, str):
            try:
                item = item.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise EncodeError(f"string element is not valid UTF-8 text: {exc}") from None
        elif not isinstance(item, (bytes, bytearray)):
            raise EncodeError(f"a string tensor may hold only bytes or str, not {type(item).__name__}")
        items.append(bytes(item))
    return items


def is_writer(value) -> bool:
    """Whether ``value`` is a TensorWriter (writes its own bytes) rather than array-like."""
    return not isinstance(value, np.ndarray) and hasattr(value, "write_into")


def _writer_plan(writer):
    try:
        dtype = np.dtype(writer.dtype)
        shape = tuple(int(d) for d in writer.shape)
    except (TypeError, ValueError) as exc:
        raise EncodeError(f"TensorWriter has a bad dtype or shape: {exc}") from None
    if dtype.kind not in "biufc" or dtype.byteorder == ">" or (
        dtype.byteorder == "=" and np.little_endian is False
    ):
        raise EncodeError(f"TensorWriter dtype must be little-endian numeric, not {dtype}")
    if any(d < 0 for d in shape):
        raise EncodeError(f"TensorWriter shape has a negative dimension: {shape}")
    return to_datatype(dtype), shape, writer


def tensor_plan(value):
    """(datatype, shape, payload); payload: uint8 view of LE data, a TensorWriter, or list[bytes]."""
    if is_writer(value):
        return _writer_plan(value)
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise EncodeError(f"cannot make an array of {type(value).__name__}: {exc}") from None
    if arr.ndim > MAX_RANK:
        raise EncodeError(f"rank {arr.ndim} is over {MAX_RANK}")
    if arr.dtype.kind in "SUO":
        return int(DataType.DT_STRING), arr.shape, _string_items(arr)
    datatype = to_datatype(arr.dtype)  # raises EncodeError for unsupported dtypes
    arr = np.asarray(arr, dtype=arr.dtype.newbyteorder("<"), order="C")  # keeps 0-d arrays 0-d
    return datatype, arr.shape, arr.reshape(-1).view(np.uint8)
