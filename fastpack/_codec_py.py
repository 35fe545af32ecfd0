"""Pure-Python TF Serving wire codec: the readable reference twin of ``_codec_c.pyx``.

Protobuf wire format in brief: a message is a run of fields, each a varint key
``field_number << 3 | wire_type`` followed by a varint (type 0), 8 bytes (type 1), a varint
length and that many bytes (type 2) or 4 bytes (type 5); types 3/4 open and close legacy groups.
Map entries are nested messages {key = 1, value = 2}. Field numbers are those of
``sanic_app/protos/*.proto`` (the same as TensorFlow's and TF Serving's).

Decoding follows what an official parser would build: fields in any order, unknown fields (and
known ones with an unexpected wire type) skipped, repeated numeric fields packed or not, repeated
occurrences of a sub-message merged. Every length and varint is bounds-checked and ``DecodeError``
is the only exception bad bytes can raise.
"""
import operator

import numpy as np

from fastpack._codec_shared import MAX_DECODED_BYTES, MAX_RANK, ModelSpec, is_writer, tensor_plan
from fastpack.dtypes import DataType, TO_NUMPY
from fastpack.errors import DecodeError, EncodeError, FastpackError

_MAX_GROUP_DEPTH = 64
_MASK64 = (1 << 64) - 1
_MAX_FIELD = (1 << 29) - 1  # protobuf's largest field number


# --------------------------------------------------------------------------- encoding


def _varint(value: int) -> bytes:
    value &= _MASK64  # negative int64 values travel as their 64-bit two's complement
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _len_header(field: int, length: int) -> bytes:
    return _varint(field << 3 | 2) + _varint(length)


def _string_field(field: int, text) -> bytes:
    data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    return _len_header(field, len(data)) + data


def _shape_message(shape) -> bytes:
    dims = []
    for size in shape:
        dim = _varint(0x08) + _varint(size) if size else b""  # Dim.size = 1; 0 is the default
        dims.append(_len_header(2, len(dim)) + dim)  # TensorShapeProto.dim = 2
    return b"".join(dims)


def _tensor_parts(plan) -> list:
    """Wire pieces of one TensorProto, in field-number order as official serializers write."""
    datatype, shape, payload = plan
    shape_msg = _shape_message(shape)
    parts = [_varint(0x08) + _varint(datatype), _len_header(2, len(shape_msg)) + shape_msg]
    if isinstance(payload, list):
        parts.extend(_len_header(8, len(item)) + item for item in payload)  # string_val = 8
        return parts
    if is_writer(payload):
        # Pure Python cannot write into a bytes object, so the writer fills a scratch array.
        scratch = np.empty(shape, dtype=np.dtype(payload.dtype))
        flat = scratch.reshape(-1).view(np.uint8)
        payload.write_into(memoryview(flat))
        payload = flat
    if payload.nbytes:
        parts.append(_len_header(4, payload.nbytes))  # tensor_content = 4
        parts.append(payload)
    return parts


def _joined_size(parts) -> int:
    return sum(len(p) if isinstance(p, bytes) else p.nbytes for p in parts)


def encode_tensor(array) -> bytes:
    """TensorProto wire bytes for an array (tensor_content for numbers, string_val for text)."""
    return b"".join(_tensor_parts(tensor_plan(array)))


def _model_spec_message(model_name, signature_name, version, version_label) -> bytes:
    if version is not None and version_label is not None:
        raise EncodeError("give a model version or a version label, not both")
    parts = []
    if model_name:
        parts.append(_string_field(1, model_name))
    if version is not None:
        try:
            version = operator.index(version)
        except TypeError:
            raise EncodeError(f"model version must be an integer, not {version!r}") from None
        if not -(1 << 63) <= version < (1 << 63):
            raise EncodeError(f"model version {version} does not fit in int64")
        wrapper = _varint(0x08) + _varint(version) if version else b""  # Int64Value.value = 1
        parts.append(_len_header(2, len(wrapper)) + wrapper)
    if signature_name:
        parts.append(_string_field(3, signature_name))
    if version_label is not None:
        parts.append(_string_field(4, version_label))
    return b"".join(parts)


def _check_text(name, what):
    if not isinstance(name, str):
        raise EncodeError(f"{what} must be str, not {type(name).__name__}")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise EncodeError(f"{what} is not valid UTF-8 text") from None


def encode_predict_request(
    model_name,
    inputs,
    *,
    signature_name="",
    version=None,
    version_label=None,
    output_filter=(),
) -> bytes:
    """PredictRequest wire bytes; each input payload is copied into the result once."""
    _check_text(model_name, "model_name")
    _check_text(signature_name, "signature_name")
    if version_label is not None:
        _check_text(version_label, "version_label")
    spec = _model_spec_message(model_name, signature_name, version, version_label)
    parts = [_len_header(1, len(spec)) + spec]
    for name, value in inputs.items():
        _check_text(name, "input name")
        key = _string_field(1, name)
        tensor = _tensor_parts(tensor_plan(value))
        tensor_size = _joined_size(tensor)
        value_header = _len_header(2, tensor_size)
        parts.append(_len_header(2, len(key) + len(value_header) + tensor_size) + key + value_header)
        parts.extend(tensor)
    for name in output_filter:
        _check_text(name, "output_filter entry")
        parts.append(_string_field(3, name))
    return b"".join(parts)


# --------------------------------------------------------------------------- decoding


def _read_varint(data: bytes, pos: int, end: int):
    result = 0
    shift = 0
    while True:
        if pos >= end:
            raise DecodeError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result & _MASK64, pos
        shift += 7
        if shift >= 70:
            raise DecodeError("varint longer than 10 bytes")


def _signed64(value: int) -> int:
    return value - (1 << 64) if value >= (1 << 63) else value


def _skip_group(data, pos, end, field, depth):
    if depth > _MAX_GROUP_DEPTH:
        raise DecodeError("groups nested too deeply")
    while True:
        key, pos = _read_varint(data, pos, end)
        if key >> 3 == 0 or key >> 3 > _MAX_FIELD:
            raise DecodeError("bad field number")
        if key & 7 == 4:
            if key >> 3 != field:
                raise DecodeError("mismatched end of group")
            return pos
        pos = _skip_value(data, pos, end, key, depth + 1)


def _skip_value(data, pos, end, key, depth=0):
    wire_type = key & 7
    if wire_type == 0:
        return _read_varint(data, pos, end)[1]
    if wire_type == 1:
        pos += 8
    elif wire_type == 5:
        pos += 4
    elif wire_type == 2:
        length, pos = _read_varint(data, pos, end)
        pos += length
    elif wire_type == 3:
        return _skip_group(data, pos, end, key >> 3, depth)
    else:
        raise DecodeError(f"bad wire type {wire_type}")
    if pos > end:
        raise DecodeError("field runs past the end of its message")
    return pos


def _fields(data, pos, end):
    """Yield (field, wire_type, value, pos_after); value is an int, or (start, stop) for type 2.

    Fixed-width values are yielded as their start offset. Groups are skipped here.
    """
    while pos < end:
        key, pos = _read_varint(data, pos, end)
        field, wire_type = key >> 3, key & 7
        if field == 0 or field > _MAX_FIELD:
            raise DecodeError(f"bad field number {field}")
        if wire_type == 0:
            value, pos = _read_varint(data, pos, end)
        elif wire_type == 2:
            length, pos = _read_varint(data, pos, end)
            if length > end - pos:
                raise DecodeError("length runs past the end of its message")
            value = (pos, pos + length)
            pos += length
        elif wire_type in (1, 5):
            value = pos
            pos += 8 if wire_type == 1 else 4
            if pos > end:
                raise DecodeError("fixed-width field runs past the end of its message")
        else:
            pos = _skip_value(data, pos, end, key)
            continue
        yield field, wire_type, value


def _text(data, span) -> str:
    try:
        return data[span[0]:span[1]].decode("utf-8")
    except UnicodeDecodeError:
        raise DecodeError("string field is not valid UTF-8") from None


# Which repeated field carries the values of each DataType, and its scalar wire type.
_FIXED32, _FIXED64, _VARINT = 5, 1, 0
_VALUE_FIELD = {
    DataType.DT_FLOAT: (5, _FIXED32),
    DataType.DT_DOUBLE: (6, _FIXED64),
    DataType.DT_INT32: (7, _VARINT),
    DataType.DT_INT16: (7, _VARINT),
    DataType.DT_INT8: (7, _VARINT),
    DataType.DT_UINT8: (7, _VARINT),
    DataType.DT_UINT16: (7, _VARINT),
    DataType.DT_QINT8: (7, _VARINT),
    DataType.DT_QUINT8: (7, _VARINT),
    DataType.DT_QINT16: (7, _VARINT),
    DataType.DT_QUINT16: (7, _VARINT),
    DataType.DT_QINT32: (7, _VARINT),
    DataType.DT_STRING: (8, 2),
    DataType.DT_COMPLEX64: (9, _FIXED32),
    DataType.DT_INT64: (10, _VARINT),
    DataType.DT_BOOL: (11, _VARINT),
    DataType.DT_COMPLEX128: (12, _FIXED64),
    DataType.DT_HALF: (13, _VARINT),
    DataType.DT_UINT32: (16, _VARINT),
    DataType.DT_UINT64: (17, _VARINT),
}
_VALUE_FIELDS = {field for field, _ in _VALUE_FIELD.values()}


class _TensorFields:
    """What the fields of one TensorProto (possibly split over merged chunks) said."""

    def __init__(self):
        self.datatype = 0
        self.dims = []
        self.unknown_rank = False
        self.content = None  # (start, stop) of the last tensor_content
        self.values = {}  # field -> list of (wire_type, value) in wire order

    def merge(self, data, start, stop):
        for field, wire_type, value in _fields(data, start, stop):
            if field == 1 and wire_type == 0:
                self.datatype = _signed64(value) & 0xFFFFFFFF  # an enum is an int32
            elif field == 2 and wire_type == 2:
                self._merge_shape(data, *value)
            elif field == 4 and wire_type == 2:
                self.content = value
            elif field in _VALUE_FIELDS:
                self.values.setdefault(field, []).append((wire_type, value))

    def _merge_shape(self, data, start, stop):
        for field, wire_type, value in _fields(data, start, stop):
            if field == 2 and wire_type == 2:
                size = 0
                for dim_field, dim_wire, dim_value in _fields(data, *value):
                    if dim_field == 1 and dim_wire == 0:
                        size = _signed64(dim_value)
                self.dims.append(size)
                if len(self.dims) > MAX_RANK:
                    raise DecodeError(f"tensor rank over {MAX_RANK}")
            elif field == 3 and wire_type == 0:
                self.unknown_rank = value != 0


def _packed_varints(data, start, stop) -> list:
    out = []
    pos = start
    while pos < stop:
        value, pos = _read_varint(data, pos, stop)
        out.append(value)
    return out


def _field_values(data, chunks, scalar_wire_type):
    """Raw values of one repeated field: a uint8 array of LE bytes (fixed) or a list of ints."""
    if scalar_wire_type == 2:  # string_val: not packable
        return [data[v[0]:v[1]] for wt, v in chunks if wt == 2]
    if scalar_wire_type == _VARINT:
        out = []
        for wire_type, value in chunks:
            if wire_type == 0:
                out.append(value)
            elif wire_type == 2:
                out.extend(_packed_varints(data, *value))
        return out
    width = 4 if scalar_wire_type == _FIXED32 else 8
    raw = bytearray()
    for wire_type, value in chunks:
        if wire_type == scalar_wire_type:
            raw += data[value:value + width]
        elif wire_type == 2:
            if (value[1] - value[0]) % width:
                raise DecodeError("packed fixed-width field has a partial element")
            raw += data[value[0]:value[1]]
    return raw


def _varints_as(values: list, datatype: int, dtype: np.dtype) -> np.ndarray:
    wide = np.array(values, dtype=np.uint64)
    if datatype == DataType.DT_BOOL:
        return wide != 0
    if datatype == DataType.DT_HALF:
        return (wide & 0xFFFF).astype(np.uint16).view(np.float16)
    if datatype in (DataType.DT_INT64, DataType.DT_UINT64):
        return wide.view(dtype)
    # int_val holds int32s; narrower types take the low bits, as TensorFlow's C++ cast does.
    return (wide & 0xFFFFFFFF).astype(np.uint32).view(np.int32).astype(dtype)


def _element_count(dims, itemsize, max_bytes) -> int:
    count = 1
    for size in dims:
        if size < 0:
            raise DecodeError(f"tensor dimension {size} is not a concrete size")
        count *= size
    if count * max(itemsize, 1) > max_bytes:
        raise DecodeError(f"tensor of {count} elements is over the {max_bytes}-byte limit")
    return count


def _build_tensor(data: bytes, fields: _TensorFields, max_bytes: int) -> np.ndarray:
    dtype = TO_NUMPY.get(fields.datatype)
    if dtype is None:
        raise DecodeError(f"unsupported TensorFlow DataType {fields.datatype}")
    if fields.unknown_rank:
        raise DecodeError("tensor has unknown rank")
    shape = tuple(fields.dims)
    count = _element_count(shape, dtype.itemsize, max_bytes)
    content = fields.content
    if content is not None and content[1] > content[0]:
        return _from_content(data, content, dtype, shape, count)
    field, scalar_wire_type = _VALUE_FIELD[DataType(fields.datatype)]
    raw = _field_values(data, fields.values.get(field, []), scalar_wire_type)
    if fields.datatype == DataType.DT_STRING:
        values = np.empty(len(raw), dtype=object)
        values[:] = raw
    elif scalar_wire_type == _VARINT:
        values = _varints_as(raw, fields.datatype, dtype)
    else:
        if len(raw) % dtype.itemsize:  # a lone real part of a complex number
            raise DecodeError("complex tensor has an odd number of parts")
        values = np.frombuffer(bytes(raw), dtype=dtype.newbyteorder("<")).astype(dtype)
    return _fill(values, dtype, shape, count)


def _from_content(data, content, dtype, shape, count):
    if dtype == object:
        raise DecodeError("DT_STRING tensors cannot use tensor_content")
    start, stop = content
    if stop - start != count * dtype.itemsize:
        raise DecodeError(
            f"tensor_content has {stop - start} bytes, shape {list(shape)} needs {count * dtype.itemsize}"
        )
    if dtype == np.bool_:  # any non-zero byte is true; never hand out bools holding 2..255
        return (np.frombuffer(data, np.uint8, count, start) != 0).reshape(shape)
    view = np.frombuffer(data, dtype, count, start)
    if not view.flags.aligned:
        view = view.copy()
    return view.reshape(shape)


def _fill(values, dtype, shape, count):
    """Values to shape: equal counts reshape, fewer repeat the last one (one value broadcasts)."""
    have = len(values)
    if have == count:
        return values.astype(dtype, copy=False).reshape(shape)
    if have > count:
        raise DecodeError(f"{have} values for a tensor of {count} elements")
    out = np.empty(count, dtype=dtype)
    if have == 0:
        out[:] = b"" if dtype == object else 0
    else:
        out[:have] = values
        out[have:] = values[-1]
    return out.reshape(shape)


def _as_bytes(data) -> bytes:
    if isinstance(data, bytes):
        return data
    try:
        return bytes(memoryview(data).cast("B"))
    except TypeError:
        raise DecodeError(f"expected bytes, not {type(data).__name__}") from None


def decode_tensor(data, *, max_bytes=MAX_DECODED_BYTES) -> np.ndarray:
    """The numpy array a TensorProto's wire bytes hold (tensor_content views are read-only)."""
    data = _as_bytes(data)
    fields = _TensorFields()
    fields.merge(data, 0, len(data))
    return _build_tensor(data, fields, max_bytes)


def _merge_model_spec(data, start, stop, spec: dict):
    for field, wire_type, value in _fields(data, start, stop):
        if wire_type != 2:
            continue
        if field == 1:
            spec["name"] = _text(data, value)
        elif field == 2:  # Int64Value wrapper; choosing it clears version_label (a oneof)
            version = spec["version"] if spec["version"] is not None else 0
            for inner, inner_wire, inner_value in _fields(data, *value):
                if inner == 1 and inner_wire == 0:
                    version = _signed64(inner_value)
            spec["version"], spec["version_label"] = version, None
        elif field == 3:
            spec["signature_name"] = _text(data, value)
        elif field == 4:
            spec["version"], spec["version_label"] = None, _text(data, value)


def decode_predict_response(data, *, max_bytes=MAX_DECODED_BYTES):
    """({output name: array}, ModelSpec) from PredictResponse wire bytes."""
    data = _as_bytes(data)
    entries = {}  # name -> list of (start, stop) chunks of the TensorProto, merged in order
    spec = {"name": "", "version": None, "version_label": None, "signature_name": ""}
    for field, wire_type, value in _fields(data, 0, len(data)):
        if wire_type != 2:
            continue
        if field == 1:
            name, chunks = "", []
            for entry_field, entry_wire, entry_value in _fields(data, *value):
                if entry_wire != 2:
                    continue
                if entry_field == 1:
                    name = _text(data, entry_value)
                elif entry_field == 2:
                    chunks.append(entry_value)
            entries[name] = chunks  # a repeated key replaces the earlier entry
        elif field == 2:
            _merge_model_spec(data, *value, spec)
    outputs = {}
    budget = max_bytes
    for name, chunks in entries.items():
        fields = _TensorFields()
        for start, stop in chunks:
            fields.merge(data, start, stop)
        array = _build_tensor(data, fields, budget)
        budget -= array.nbytes
        outputs[name] = array
    return outputs, ModelSpec(**spec)


__all__ = [
    "ModelSpec",
    "MAX_DECODED_BYTES",
    "FastpackError",
    "encode_tensor",
    "encode_predict_request",
    "decode_tensor",
    "decode_predict_response",
]
