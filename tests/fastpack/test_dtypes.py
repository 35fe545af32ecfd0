"""fastpack.dtypes agrees with TensorFlow's numbering and refuses what has no twin."""
import numpy as np
import pytest

from fastpack.dtypes import DataType, to_datatype, to_numpy
from fastpack.errors import DecodeError, EncodeError

PAIRS = {"f4": 1, "f8": 2, "i4": 3, "u1": 4, "i2": 5, "i1": 6, "c8": 8, "i8": 9, "?": 10,
         "u2": 17, "c16": 18, "f2": 19, "u4": 22, "u8": 23}


@pytest.mark.parametrize("dtype,number", sorted(PAIRS.items()))
def test_round_trip(dtype, number):
    assert to_datatype(np.dtype(dtype)) == number
    assert to_datatype(np.dtype(dtype).newbyteorder(">")) == number  # order is not the type
    assert to_numpy(number) == np.dtype(dtype)


def test_strings_and_quantized():
    for dtype in ("S3", "U2", object):
        assert to_datatype(dtype) == DataType.DT_STRING == 7
    assert to_numpy(7) == np.dtype(object)
    assert to_numpy(DataType.DT_QINT8) == np.dtype("i1")


@pytest.mark.parametrize("bad", ["M8[s]", "V4", [("a", "i4")]])
def test_unmapped_numpy_dtypes(bad):
    with pytest.raises(EncodeError):
        to_datatype(bad)


@pytest.mark.parametrize("bad", [0, 14, 20, 21, 24, -1, "x", None])
def test_unmapped_datatypes(bad):
    with pytest.raises(DecodeError):
        to_numpy(bad)


@pytest.mark.tensorflow
def test_names_and_numbers_match_tensorflow():
    types_pb2 = pytest.importorskip("tensorflow.core.framework.types_pb2")
    for member in DataType:
        assert types_pb2.DataType.Value(member.name) == member.value
