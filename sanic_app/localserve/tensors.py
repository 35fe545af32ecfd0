"""TensorProto <-> numpy for the backend, in both of TF's encodings.

Requests may carry values in `tensor_content` (raw little-endian bytes) or in the typed
`*_val` fields; TensorFlow accepts both, so do we (with its rules: an empty `*_val` means
zeros, a short one repeats its last value). Responses use the `*_val` fields by default,
as TF Serving does, or `tensor_content` when asked. Encoding writes the packed fields' bytes
straight from the array, because protobuf's `extend` on a million floats costs ~0.2 s.
"""
import numpy as np

from sanic_app.protos import tensor_pb2

from .signatures import datatype_of, numpy_dtype

T = tensor_pb2

# DataType -> (name of the *_val field, field number, dtype of its wire values) for the
# fixed-width packed fields whose wire bytes equal numpy's little-endian bytes.
_FIXED_FIELDS = {
    T.DT_FLOAT: (5, np.dtype("<f4")),
    T.DT_DOUBLE: (6, np.dtype("<f8")),
    T.DT_COMPLEX64: (9, np.dtype("<c8")),
    T.DT_COMPLEX128: (12, np.dtype("<c16")),
}
# DataType -> name of the varint-packed *_val field carrying it.
_VARINT_FIELDS = {
    T.DT_INT32: "int_val", T.DT_INT16: "int_val", T.DT_INT8: "int_val",
    T.DT_UINT8: "int_val", T.DT_UINT16: "int_val",
    T.DT_INT64: "int64_val", T.DT_BOOL: "bool_val",
    T.DT_UINT32: "uint32_val", T.DT_UINT64: "uint64_val",
}
_FIXED_NAMES = {T.DT_FLOAT: "float_val", T.DT_DOUBLE: "double_val",
                T.DT_COMPLEX64: "scomplex_val", T.DT_COMPLEX128: "dcomplex_val"}

# Refuse absurd declared sizes before allocating anything for them. tensor_content is
# bounded by the message size; a few *_val values can declare a huge shape to be filled,
# so filling is bounded separately.
MAX_ELEMENTS = 1 << 31
MAX_FILL_BYTES = 256 << 20


class TensorParseError(ValueError):
    """The TensorProto cannot become a tensor (TF Serving: "tensor parsing error")."""


def _shape_of(proto: tensor_pb2.TensorProto) -> tuple[int, ...]:
    if proto.tensor_shape.unknown_rank:
        raise TensorParseError("unknown rank")
    shape = tuple(d.size for d in proto.tensor_shape.dim)
    if any(d < 0 for d in shape):
        raise TensorParseError("negative dimension")
    count = 1
    for d in shape:
        count *= d
    if count > MAX_ELEMENTS:
        raise TensorParseError("too many elements")
    return shape


def _fill(values: np.ndarray, count: int, dtype: np.dtype) -> np.ndarray:
    """TensorFlow's rule for typed values: none -> zeros, fewer -> repeat the last one."""
    if len(values) > count:
        raise TensorParseError(f"{len(values)} values for {count} elements")
    if len(values) == count:
        return values.astype(dtype, copy=False)
    if count * dtype.itemsize > MAX_FILL_BYTES:
        raise TensorParseError(f"{len(values)} values would be repeated to fill {count} elements")
    out = np.empty(count, dtype=dtype)
    out[: len(values)] = values
    out[len(values):] = values[-1] if len(values) else dtype.type(0) if dtype.kind != "O" else b""
    return out


def to_numpy(proto: tensor_pb2.TensorProto) -> np.ndarray:
    """Decode one request TensorProto; raises TensorParseError on anything malformed."""
    dtype = numpy_dtype(proto.dtype)
    if dtype is None:
        raise TensorParseError(f"unsupported dtype {proto.dtype}")
    shape = _shape_of(proto)
    count = int(np.prod(shape, dtype=np.int64))
    content = proto.tensor_content  # each access copies the bytes: read it once
    if proto.dtype == T.DT_STRING:
        if content:
            raise TensorParseError("string tensors have no tensor_content form")
        values = np.empty(len(proto.string_val), dtype=object)
        values[:] = list(proto.string_val)
        return _fill(values, count, dtype).reshape(shape)
    if content:
        if len(content) != count * dtype.itemsize:
            raise TensorParseError(
                f"tensor_content holds {len(content)} bytes, shape needs {count * dtype.itemsize}")
        return np.frombuffer(content, dtype=dtype).reshape(shape)
    if proto.dtype in _FIXED_NAMES:
        raw = np.asarray(getattr(proto, _FIXED_NAMES[proto.dtype]))
        if proto.dtype in (T.DT_COMPLEX64, T.DT_COMPLEX128):
            if len(raw) % 2:
                raise TensorParseError("odd number of complex parts")
            raw = raw.astype(dtype.type(0).real.dtype).view(dtype)
        return _fill(raw, count, dtype).reshape(shape)
    if proto.dtype == T.DT_HALF:
        bits = np.asarray(proto.half_val, dtype=np.int64)
        return _fill((bits & 0xFFFF).astype("<u2").view("<f2"), count, dtype).reshape(shape)
    field_name = _VARINT_FIELDS[proto.dtype]
    values = np.asarray(getattr(proto, field_name))
    if proto.dtype != T.DT_BOOL and len(values):
        info = np.iinfo(dtype)
        if values.min() < info.min or values.max() > info.max:
            raise TensorParseError("value out of range for dtype")
    return _fill(values.astype(dtype) if len(values) else values, count, dtype).reshape(shape)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def length_delimited(field_number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field (tag, length, payload)."""
    return _varint(field_number << 3 | 2) + _varint(len(payload)) + payload


def to_proto_bytes(array: np.ndarray, tensor_content: bool = False) -> bytes:
    """Serialized TensorProto for an array: *_val fields by default, like TF Serving."""
    array = np.asarray(array)
    datatype = datatype_of(array)
    header = tensor_pb2.TensorProto(dtype=datatype)
    header.tensor_shape.dim.extend(tensor_pb2.TensorShapeProto.Dim(size=d) for d in array.shape)
    if datatype == T.DT_STRING:
        header.string_val.extend(
            v if isinstance(v, bytes) else str(v).encode() for v in array.reshape(-1))
        return header.SerializeToString()
    wire_dtype = numpy_dtype(datatype)
    if tensor_content:
        if array.size:
            header.tensor_content = np.ascontiguousarray(array, dtype=wire_dtype).tobytes()
        return header.SerializeToString()
    if datatype in _FIXED_FIELDS:
        number, dtype = _FIXED_FIELDS[datatype]
        # Protobuf concatenation merges messages, so the packed field can be appended as bytes.
        packed = np.ascontiguousarray(array, dtype=dtype).tobytes()
        return header.SerializeToString() + (length_delimited(number, packed) if packed else b"")
    if datatype == T.DT_HALF:
        header.half_val.extend(array.astype("<f2").reshape(-1).view("<u2").tolist())
    else:
        getattr(header, _VARINT_FIELDS[datatype]).extend(array.reshape(-1).tolist())
    return header.SerializeToString()
