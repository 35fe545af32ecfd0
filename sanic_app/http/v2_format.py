"""The Open Inference Protocol's (KServe v2 / Triton HTTP) infer format, both ways, in one unit.

Request direction: body bytes (after Content-Encoding) -> an ``InferRequest`` of typed numpy
tensors. Two forms: JSON only (``data`` flat or nested, row-major), or the binary tensor
extension: a JSON header of ``Inference-Header-Content-Length`` bytes, then each input with a
``binary_data_size`` parameter as raw little-endian bytes, in the order listed (BYTES
elements as a 4-byte little-endian length, then the bytes). Binary tensors become numpy views
on the body (``np.frombuffer``): the codec copies them into the TF Serving request once.

Answer direction: named output arrays -> a JSON body, or a JSON header followed by the raw
bytes of the outputs asked for in binary. Every size a client controls is checked against
the bytes that are really there, in Python integers, before anything is allocated.
"""
from __future__ import annotations

import math
import struct
import zlib
from dataclasses import dataclass, field

import numpy as np
import pybase64

from sanic_app.core.decode import b64_bytes, is_b64
from sanic_app.core.limits import LimitExceeded, Limits, check_inputs
from sanic_app.errors import InvalidArgument, UnsupportedMediaType
from sanic_app.http.jsonbody import dump_json, parse_json

HEADER_LENGTH = "Inference-Header-Content-Length"
MAX_RANK = 64  # numpy's own limit, and the codec's

# The protocol's tensor datatypes and the numpy dtypes that hold them (little-endian on the wire).
DATATYPES: dict[str, np.dtype] = {
    "BOOL": np.dtype("?"),
    "UINT8": np.dtype("u1"), "UINT16": np.dtype("<u2"), "UINT32": np.dtype("<u4"), "UINT64": np.dtype("<u8"),
    "INT8": np.dtype("i1"), "INT16": np.dtype("<i2"), "INT32": np.dtype("<i4"), "INT64": np.dtype("<i8"),
    "FP16": np.dtype("<f2"), "FP32": np.dtype("<f4"), "FP64": np.dtype("<f8"),
    "BYTES": np.dtype(object),
}
_BY_KIND_SIZE = {(dt.kind, dt.itemsize): name for name, dt in DATATYPES.items() if name != "BYTES"}
# Which JSON value kinds (numpy's, after np.asarray) each datatype kind accepts: no silent
# float->int, bool->number or string->number casts.
_JSON_KINDS = {"f": "fiu", "i": "iu", "u": "iu", "b": "b"}


def datatype_of(dtype: np.dtype) -> str:
    """The protocol's name for a numpy dtype (object -> BYTES)."""
    dtype = np.dtype(dtype)
    if dtype.kind in "OSU":
        return "BYTES"
    try:
        return _BY_KIND_SIZE[(dtype.kind, dtype.itemsize)]
    except KeyError:
        raise InvalidArgument(f"dtype {dtype} has no Open Inference Protocol datatype") from None


@dataclass
class InferInput:
    name: str
    datatype: str
    shape: tuple[int, ...]
    value: np.ndarray  # of DATATYPES[datatype], already in ``shape``; BYTES: object array of bytes


@dataclass
class RequestedOutput:
    name: str
    binary: bool | None = None          # parameters.binary_data (None: the request's default)
    classification: int | None = None   # parameters.classification: top k as strings


@dataclass
class InferRequest:
    inputs: list[InferInput]
    outputs: list[RequestedOutput] = field(default_factory=list)
    id: str | None = None
    binary_output: bool = False         # parameters.binary_data_output
    timeout_s: float | None = None      # parameters.timeout (microseconds on the wire)
    signature_name: str | None = None   # parameters.signature_name: another TF signature


# ---- transport: Content-Encoding / Accept-Encoding ----------------------------------------

def decompress(body: bytes, encoding: str | None, max_bytes: int) -> bytes:
    """The body as sent before Content-Encoding; never more than ``max_bytes`` (413), so a
    small gzip bomb cannot inflate into memory."""
    name = (encoding or "").strip().lower()
    if name in ("", "identity"):
        return body
    if name not in ("gzip", "x-gzip", "deflate"):
        raise UnsupportedMediaType(f"unsupported Content-Encoding {encoding!r} (use gzip or deflate)")
    # 32 + 15: a gzip or zlib stream, told apart by its header; "deflate" sent raw (no zlib
    # header), as some clients do, is tried as such.
    for wbits in (47, -15) if name == "deflate" else (47,):
        inflater = zlib.decompressobj(wbits)
        try:
            out = inflater.decompress(body, max_bytes + 1)
        except zlib.error as exc:
            if wbits == 47 and name == "deflate":
                continue
            raise InvalidArgument(f"the {name} body does not decompress: {exc}") from None
        if len(out) > max_bytes or inflater.unconsumed_tail:
            raise LimitExceeded(f"the {name} body decompresses past the limit of {max_bytes} bytes",
                                413, "max_body_bytes")
        if not inflater.eof:
            raise InvalidArgument(f"the {name} body is truncated")
        return out
    raise InvalidArgument(f"the {name} body does not decompress")  # pragma: no cover


def response_encoding(accept_encoding: str | None) -> str | None:
    """gzip or deflate when the client lists it (q > 0), else None (identity)."""
    offered = {}
    for item in (accept_encoding or "").lower().split(","):
        token, _, params = item.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        offered[token.strip()] = q
    for name in ("gzip", "deflate"):
        if offered.get(name, 0.0) > 0:
            return name
    return None


def compress(body: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        packer = zlib.compressobj(6, zlib.DEFLATED, 31)
    else:
        packer = zlib.compressobj(6, zlib.DEFLATED, 15)
    return packer.compress(body) + packer.flush()


# ---- request: bytes -> InferRequest -------------------------------------------------------

def _header_length(value: str | None, total: int) -> int | None:
    if value is None:
        return None
    text = value.strip()
    if not text.isdigit():
        raise InvalidArgument(f"{HEADER_LENGTH} must be a non-negative integer, got {value[:40]!r}")
    length = int(text)
    if length > total:
        raise InvalidArgument(f"{HEADER_LENGTH} is {length} but the body has only {total} bytes")
    if length == 0:
        raise InvalidArgument(f"{HEADER_LENGTH} is 0: the JSON header is missing")
    return length


def _object(value, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidArgument(f"{where} must be a JSON object")
    return value


def _int_param(params: dict, key: str, where: str, minimum: int) -> int | None:
    value = params.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise InvalidArgument(f"{where} parameter {key!r} must be an integer >= {minimum}, got {value!r}")
    return value


def _bool_param(params: dict, key: str, where: str) -> bool | None:
    value = params.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise InvalidArgument(f"{where} parameter {key!r} must be true or false, got {value!r}")
    return value


def _shape(value, where: str) -> tuple[int, ...]:
    if not isinstance(value, list):
        raise InvalidArgument(f"{where}: 'shape' must be a list of dimension sizes")
    if len(value) > MAX_RANK:
        raise InvalidArgument(f"{where}: rank {len(value)} is over {MAX_RANK}")
    for d in value:
        if not isinstance(d, int) or isinstance(d, bool) or d < 0:
            raise InvalidArgument(f"{where}: 'shape' must hold non-negative integers, got {d!r}")
    return tuple(value)


def parse_infer(body: bytes, header_length: str | None, limits: Limits) -> InferRequest:
    """An infer request body (decompressed) -> InferRequest; 400 for anything inconsistent."""
    if not body:
        raise InvalidArgument("the request body is empty")
    view = memoryview(body)
    length = _header_length(header_length, len(body))
    header = body if length is None else bytes(view[:length])  # the JSON header only: small
    doc = parse_json(header, limits.max_json_depth)
    if not isinstance(doc, dict):
        raise InvalidArgument("the inference request must be a JSON object")
    inputs = doc.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise InvalidArgument("'inputs' must be a non-empty list of tensors")
    check_inputs(len(inputs), limits)
    params = _object(doc.get("parameters"), "'parameters'")
    request = InferRequest(inputs=[])
    request_id = doc.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise InvalidArgument("'id' must be a string")
    request.id = request_id
    request.binary_output = bool(_bool_param(params, "binary_data_output", "request"))
    timeout_us = _int_param(params, "timeout", "request", 1)
    request.timeout_s = timeout_us / 1e6 if timeout_us is not None else None
    signature = params.get("signature_name")
    if signature is not None and (not isinstance(signature, str) or not signature):
        raise InvalidArgument("request parameter 'signature_name' must be a non-empty string")
    request.signature_name = signature

    offset = len(body) if length is None else length
    names = set()
    for i, item in enumerate(inputs):
        tensor, offset = _input(item, i, view, offset)
        if tensor.name in names:
            raise InvalidArgument(f"input {tensor.name!r} is given twice")
        names.add(tensor.name)
        request.inputs.append(tensor)
    if offset != len(body):
        raise InvalidArgument(f"{len(body) - offset} bytes after the last binary input; "
                              "binary_data_size values do not add up to the body")
    request.outputs = _outputs(doc.get("outputs"))
    return request


def _input(item, index: int, view: memoryview, offset: int) -> tuple[InferInput, int]:
    if not isinstance(item, dict):
        raise InvalidArgument(f"inputs[{index}] must be a JSON object")
    name = item.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidArgument(f"inputs[{index}] needs a 'name' string")
    where = f"input {name!r}"
    datatype = item.get("datatype")
    if datatype not in DATATYPES:
        raise InvalidArgument(f"{where}: unknown datatype {datatype!r} (one of {', '.join(DATATYPES)})")
    shape = _shape(item.get("shape"), where)
    count = math.prod(shape)
    params = _object(item.get("parameters"), f"{where} 'parameters'")
    size = _int_param(params, "binary_data_size", where, 0)
    if size is None:
        if "data" not in item:
            raise InvalidArgument(f"{where}: give 'data', or binary data with parameters.binary_data_size")
        value = _json_tensor(item["data"], datatype, shape, count, where)
        return InferInput(name, datatype, shape, value), offset
    if "data" in item:
        raise InvalidArgument(f"{where}: give 'data' or binary_data_size, not both")
    if size > len(view) - offset:
        raise InvalidArgument(f"{where}: binary_data_size {size} runs past the end of the body "
                              f"({len(view) - offset} bytes left)")
    chunk = view[offset:offset + size]
    return InferInput(name, datatype, shape, binary_tensor(chunk, datatype, shape, count, where)), offset + size


def binary_tensor(chunk: memoryview, datatype: str, shape: tuple[int, ...], count: int, where: str) -> np.ndarray:
    """One binary section -> array (a view on the body for fixed-size datatypes)."""
    if datatype == "BYTES":
        return _bytes_elements(chunk, count, where).reshape(shape)
    dtype = DATATYPES[datatype]
    if count * dtype.itemsize != len(chunk):
        raise InvalidArgument(f"{where}: shape {list(shape)} of {datatype} needs {count} x {dtype.itemsize} "
                              f"bytes, but binary_data_size is {len(chunk)}")
    arr = np.frombuffer(chunk, dtype=dtype, count=count).reshape(shape)
    if datatype == "BOOL" and count and np.frombuffer(chunk, np.uint8).max() > 1:
        raise InvalidArgument(f"{where}: BOOL bytes must be 0 or 1")
    return arr


_LENGTH = struct.Struct("<I")


def _bytes_elements(chunk: memoryview, count: int, where: str) -> np.ndarray:
    """BYTES elements: each a 4-byte little-endian length, then that many bytes."""
    if count * _LENGTH.size > len(chunk):
        raise InvalidArgument(f"{where}: {count} BYTES elements need at least {count * 4} bytes, "
                              f"binary_data_size is {len(chunk)}")
    items = np.empty(count, dtype=object)
    pos, end = 0, len(chunk)
    for i in range(count):
        if end - pos < _LENGTH.size:
            raise InvalidArgument(f"{where}: BYTES element {i} has no length prefix (section ends)")
        (n,) = _LENGTH.unpack_from(chunk, pos)
        pos += _LENGTH.size
        if n > end - pos:
            raise InvalidArgument(f"{where}: BYTES element {i} claims {n} bytes, only {end - pos} are left")
        items[i] = bytes(chunk[pos:pos + n])
        pos += n
    if pos != end:
        raise InvalidArgument(f"{where}: {end - pos} bytes left over after {count} BYTES elements")
    return items


def _flatten(data, out: list) -> None:
    if isinstance(data, list):
        for item in data:
            _flatten(item, out)
    else:
        out.append(data)


def _json_tensor(data, datatype: str, shape: tuple[int, ...], count: int, where: str) -> np.ndarray:
    """'data' (flat or nested, row-major) -> array of the datatype in ``shape``."""
    if datatype == "BYTES":
        flat: list = []
        _flatten(data, flat)
        if len(flat) != count:
            raise InvalidArgument(f"{where}: shape {list(shape)} needs {count} elements, 'data' has {len(flat)}")
        items = np.empty(count, dtype=object)
        for i, v in enumerate(flat):
            if isinstance(v, str):
                items[i] = v.encode("utf-8")
            elif is_b64(v):
                items[i] = b64_bytes(v, f"{where}[{i}]")
            else:
                raise InvalidArgument(f"{where}: BYTES data must be strings (or {{\"b64\": ...}}), got "
                                      f"{type(v).__name__}")
        return items.reshape(shape)
    try:
        arr = np.asarray(data if isinstance(data, list) else [data])
    except (ValueError, TypeError) as exc:
        raise InvalidArgument(f"{where}: 'data' does not form a regular tensor ({exc})") from None
    want = DATATYPES[datatype]
    if want.kind == "u" and arr.dtype.kind in "fO":
        arr = _big_unsigned(data, arr)  # ints past int64 make numpy fall back to float64
    if arr.dtype.kind not in _JSON_KINDS[want.kind]:
        got = {"U": "strings", "O": "mixed or non-numeric values", "f": "floating-point numbers",
               "b": "booleans", "i": "integers", "u": "integers"}.get(arr.dtype.kind, str(arr.dtype))
        if arr.size or arr.dtype.kind not in "f":  # np.asarray([]) is float64: fine for any datatype
            raise InvalidArgument(f"{where}: datatype {datatype} needs {want.kind!r}-kind values, got {got}")
    if arr.size != count:
        raise InvalidArgument(f"{where}: shape {list(shape)} needs {count} elements, 'data' has {arr.size}")
    if want.kind in "iu" and arr.size:
        info = np.iinfo(want)
        if arr.min() < info.min or arr.max() > info.max:
            raise InvalidArgument(f"{where}: values out of range for {datatype}")
    return arr.astype(want, copy=False).reshape(shape)


def _big_unsigned(data, arr: np.ndarray) -> np.ndarray:
    """UINT64 data with values past int64: exact, when every element is a JSON integer."""
    flat: list = []
    _flatten(data if isinstance(data, list) else [data], flat)
    if not all(type(v) is int and 0 <= v < 2**64 for v in flat):
        return arr  # the caller names what is wrong
    try:
        return np.array(data, dtype=np.uint64)
    except (ValueError, TypeError, OverflowError):
        return arr


def _outputs(value) -> list[RequestedOutput]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidArgument("'outputs' must be a list")
    requested, names = [], set()
    for i, item in enumerate(value):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
            raise InvalidArgument(f"outputs[{i}] must be an object with a 'name' string")
        where = f"output {item['name']!r}"
        if item["name"] in names:
            raise InvalidArgument(f"{where} is requested twice")
        names.add(item["name"])
        params = _object(item.get("parameters"), f"{where} 'parameters'")
        requested.append(RequestedOutput(item["name"], _bool_param(params, "binary_data", where),
                                         _int_param(params, "classification", where, 1)))
    return requested


# ---- answer: output tensors -> bytes ------------------------------------------------------

@dataclass
class OutputTensor:
    name: str
    value: np.ndarray  # numeric, or object (BYTES) holding bytes
    binary: bool = False


def _bytes_items(arr: np.ndarray) -> list[bytes]:
    return [v.encode("utf-8") if isinstance(v, str) else bytes(v) for v in arr.reshape(-1).tolist()]


def _json_data(arr: np.ndarray):
    if arr.dtype != object:
        return arr.reshape(-1)
    out = []
    for v in _bytes_items(arr):
        try:
            out.append(v.decode("utf-8"))
        except UnicodeDecodeError:  # JSON cannot carry it as text: the gateway's b64 form
            out.append({"b64": pybase64.b64encode(v).decode("ascii")})
    return out


def binary_section(arr: np.ndarray):
    """Raw bytes of one output as the extension lays them out (a buffer; no copy for numbers)."""
    if arr.dtype == object:
        return b"".join(_LENGTH.pack(len(v)) + v for v in _bytes_items(arr))
    arr = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<"))
    return memoryview(arr.reshape(-1)).cast("B")


def render_infer(model: str, version: str | None, request_id: str | None,
                 outputs: list[OutputTensor]) -> tuple[bytes, int | None]:
    """(body, header length): JSON only when no output is binary (header length None)."""
    rendered, sections = [], []
    for out in outputs:
        item = {"name": out.name, "datatype": datatype_of(out.value.dtype), "shape": list(out.value.shape)}
        if out.binary:
            section = binary_section(out.value)
            item["parameters"] = {"binary_data_size": len(section)}
            sections.append(section)
        else:
            item["data"] = _json_data(out.value)
        rendered.append(item)
    doc = {"model_name": model}
    if version is not None:
        doc["model_version"] = version
    if request_id is not None:
        doc["id"] = request_id
    doc["outputs"] = rendered
    header = dump_json(doc)
    if not sections:
        return header, None
    return b"".join([header, *sections]), len(header)
