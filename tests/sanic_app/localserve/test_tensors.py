"""TensorProto <-> numpy on the backend: both encodings, TF's fill rules, parse errors."""
import numpy as np
import pytest

from sanic_app.localserve.tensors import TensorParseError, to_numpy, to_proto_bytes
from sanic_app.protos import tensor_pb2

SAMPLES = [
    np.arange(6, dtype=np.float32).reshape(2, 3) / 7,
    np.array([[1.5, -2.25]], dtype=np.float64),
    np.array([-(2**31), 2**31 - 1], dtype=np.int32),
    np.array([0, 255], dtype=np.uint8),
    np.array([-32768, 32767], dtype=np.int16),
    np.array([-128, 127], dtype=np.int8),
    np.array([-(2**63), 2**63 - 1], dtype=np.int64),
    np.array([True, False, True]),
    np.array([0, 65535], dtype=np.uint16),
    np.array([0, 2**32 - 1], dtype=np.uint32),
    np.array([0, 2**64 - 1], dtype=np.uint64),
    np.array([1.5, -0.0, 65504], dtype=np.float16),
    np.array([1 + 2j, -3.5j], dtype=np.complex64),
    np.array([1 + 2j], dtype=np.complex128),
    np.zeros((0, 4), dtype=np.float32),
    np.float32(3.5).reshape(()),
]


def _parsed(data: bytes) -> np.ndarray:
    proto = tensor_pb2.TensorProto()
    proto.ParseFromString(data)
    return to_numpy(proto)


@pytest.mark.parametrize("array", SAMPLES, ids=lambda a: f"{a.dtype}{list(a.shape)}")
@pytest.mark.parametrize("tensor_content", [False, True], ids=["val", "content"])
def test_round_trip(array, tensor_content):
    back = _parsed(to_proto_bytes(array, tensor_content))
    assert back.dtype == array.dtype and back.shape == array.shape
    np.testing.assert_array_equal(back, array)


def test_val_form_uses_the_typed_field_and_content_form_does_not():
    proto = tensor_pb2.TensorProto()
    proto.ParseFromString(to_proto_bytes(np.ones((2, 2), np.float32)))
    assert list(proto.float_val) == [1.0] * 4 and not proto.tensor_content
    proto.ParseFromString(to_proto_bytes(np.ones((2, 2), np.float32), tensor_content=True))
    assert len(proto.tensor_content) == 16 and not proto.float_val


def test_strings_round_trip():
    array = np.array([b"a", b"", b"\xff\x00"], dtype=object)
    back = _parsed(to_proto_bytes(array))
    assert back.tolist() == array.tolist()


def test_short_val_repeats_the_last_value_and_empty_means_zeros():
    proto = tensor_pb2.TensorProto(dtype=tensor_pb2.DT_INT32)
    proto.tensor_shape.dim.add(size=4)
    proto.int_val.extend([7, 9])
    assert to_numpy(proto).tolist() == [7, 9, 9, 9]
    proto.ClearField("int_val")
    assert to_numpy(proto).tolist() == [0, 0, 0, 0]


def _bad(**fields):
    proto = tensor_pb2.TensorProto(dtype=fields.pop("dtype", tensor_pb2.DT_FLOAT))
    for size in fields.pop("dims", [2]):
        proto.tensor_shape.dim.add(size=size)
    for name, value in fields.items():
        field = getattr(proto, name)
        if isinstance(value, list):
            field.extend(value)
        elif name == "tensor_shape":
            proto.tensor_shape.unknown_rank = True
        else:
            setattr(proto, name, value)
    return proto


@pytest.mark.parametrize("proto", [
    _bad(tensor_content=b"\x00" * 7),                      # 2 floats need 8 bytes
    _bad(float_val=[1, 2, 3]),                             # more values than elements
    _bad(dims=[-1]),                                       # negative dimension
    _bad(dims=[1 << 20, 1 << 20]),                         # absurd element count
    _bad(dims=[1 << 30], float_val=[1.0]),                 # 4 GiB from one value
    _bad(dtype=tensor_pb2.DT_RESOURCE),                    # not a servable dtype
    _bad(dtype=tensor_pb2.DT_UINT8, int_val=[300]),        # out of range for uint8
    _bad(dtype=tensor_pb2.DT_STRING, tensor_content=b"ab"),
    _bad(dtype=tensor_pb2.DT_COMPLEX64, scomplex_val=[1.0]),
], ids=["content-size", "too-many", "negative", "huge", "huge-fill", "resource", "range", "string-content",
        "half-complex"])
def test_malformed_tensors_raise_parse_errors(proto):
    with pytest.raises(TensorParseError):
        to_numpy(proto)


@pytest.mark.tensorflow
@pytest.mark.parametrize("array", SAMPLES, ids=lambda a: f"{a.dtype}{list(a.shape)}")
@pytest.mark.parametrize("tensor_content", [False, True], ids=["val", "content"])
def test_tensorflow_reads_what_we_write(official, array, tensor_content):
    proto = official.tf.make_tensor_proto(np.zeros(1, np.float32))
    proto.ParseFromString(to_proto_bytes(array, tensor_content))
    back = official.tf.make_ndarray(proto)
    assert back.dtype == array.dtype and back.shape == array.shape
    np.testing.assert_array_equal(back, array)


@pytest.mark.tensorflow
@pytest.mark.parametrize("array", SAMPLES[:-2], ids=lambda a: f"{a.dtype}{list(a.shape)}")
def test_we_read_what_tensorflow_writes(official, array):
    proto = tensor_pb2.TensorProto()
    proto.ParseFromString(official.tf.make_tensor_proto(array).SerializeToString())
    np.testing.assert_array_equal(to_numpy(proto), array)
