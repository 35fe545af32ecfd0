"""numpy dtype <-> TensorFlow ``DataType`` numbers, without importing TensorFlow.

The numbers are TF's (tensorflow/core/framework/types.proto); only dtypes numpy can hold
exactly are mapped. Quantized types decode to their plain integer twins; bfloat16 and the
resource/variant types have no numpy form and are refused.
"""
from enum import IntEnum

import numpy as np

from fastpack.errors import DecodeError, EncodeError


class DataType(IntEnum):
    """TensorFlow's DataType enum values, under TF's own names."""

    DT_INVALID = 0
    DT_FLOAT = 1
    DT_DOUBLE = 2
    DT_INT32 = 3
    DT_UINT8 = 4
    DT_INT16 = 5
    DT_INT8 = 6
    DT_STRING = 7
    DT_COMPLEX64 = 8
    DT_INT64 = 9
    DT_BOOL = 10
    DT_QINT8 = 11
    DT_QUINT8 = 12
    DT_QINT32 = 13
    DT_BFLOAT16 = 14
    DT_QINT16 = 15
    DT_QUINT16 = 16
    DT_UINT16 = 17
    DT_COMPLEX128 = 18
    DT_HALF = 19
    DT_RESOURCE = 20
    DT_VARIANT = 21
    DT_UINT32 = 22
    DT_UINT64 = 23


# Numeric dtypes travel little-endian in tensor_content, whatever the host.
_NUMERIC = {
    DataType.DT_FLOAT: "<f4",
    DataType.DT_DOUBLE: "<f8",
    DataType.DT_INT32: "<i4",
    DataType.DT_UINT8: "u1",
    DataType.DT_INT16: "<i2",
    DataType.DT_INT8: "i1",
    DataType.DT_COMPLEX64: "<c8",
    DataType.DT_INT64: "<i8",
    DataType.DT_BOOL: "?",
    DataType.DT_UINT16: "<u2",
    DataType.DT_COMPLEX128: "<c16",
    DataType.DT_HALF: "<f2",
    DataType.DT_UINT32: "<u4",
    DataType.DT_UINT64: "<u8",
}
_QUANTIZED = {
    DataType.DT_QINT8: "i1",
    DataType.DT_QUINT8: "u1",
    DataType.DT_QINT32: "<i4",
    DataType.DT_QINT16: "<i2",
    DataType.DT_QUINT16: "<u2",
}

TO_NUMPY = {int(k): np.dtype(v) for k, v in {**_NUMERIC, **_QUANTIZED}.items()}
TO_NUMPY[int(DataType.DT_STRING)] = np.dtype(object)
# Keyed by (kind, itemsize) so byte order does not matter on the way in.
_FROM_NUMPY = {(np.dtype(v).kind, np.dtype(v).itemsize): int(k) for k, v in _NUMERIC.items()}


def to_numpy(datatype: int) -> np.dtype:
    """The numpy dtype a decoded tensor of this DataType has (object for DT_STRING)."""
    try:
        return TO_NUMPY[int(datatype)]
    except (KeyError, TypeError, ValueError):
        raise DecodeError(f"unsupported TensorFlow DataType {datatype!r}") from None


def to_datatype(dtype) -> int:
    """TF DataType number for a numpy dtype; bytes/str/object mean DT_STRING."""
    dtype = np.dtype(dtype)
    if dtype.kind in "SUO":
        return int(DataType.DT_STRING)
    try:
        return _FROM_NUMPY[(dtype.kind, dtype.itemsize)]
    except KeyError:
        raise EncodeError(f"numpy dtype {dtype} has no TensorFlow DataType") from None


__all__ = ["DataType", "to_numpy", "to_datatype", "TO_NUMPY"]
