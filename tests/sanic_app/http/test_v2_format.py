"""The v2 wire format, byte by byte, against bodies built here by hand from the protocol's text."""
import gzip
import json
import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastpack
from sanic_app.core.decode import InputDecoder
from sanic_app.core.limits import LimitExceeded, Limits
from sanic_app.core.spec import InputSpec, ModelConfig
from sanic_app.errors import InvalidArgument, UnsupportedMediaType
from sanic_app.http import v2_format
from sanic_app.http.v2_format import OutputTensor, decompress, parse_infer, render_infer
from sanic_app.http.v2_infer import predict_call

LIMITS = Limits()


def binary_body(header: dict, *sections: bytes) -> tuple[bytes, str]:
    """(body, Inference-Header-Content-Length) as the extension lays them out."""
    head = json.dumps(header).encode()
    return head + b"".join(sections), str(len(head))


def bytes_section(*items: bytes) -> bytes:
    return b"".join(struct.pack("<I", len(i)) + i for i in items)


# ---- request direction ----------------------------------------------------------------------

def test_binary_inputs_are_views_on_the_body():
    floats = np.arange(6, dtype="<f4").reshape(2, 3)
    ints = np.array([7, -1], dtype="<i8")
    body, length = binary_body(
        {"id": "r1", "inputs": [
            {"name": "x", "datatype": "FP32", "shape": [2, 3], "parameters": {"binary_data_size": 24}},
            {"name": "n", "datatype": "INT64", "shape": [2], "parameters": {"binary_data_size": 16}},
            {"name": "s", "datatype": "BYTES", "shape": [2], "parameters": {"binary_data_size": 15}},
        ], "outputs": [{"name": "y", "parameters": {"binary_data": True, "classification": 2}}],
         "parameters": {"timeout": 250000, "binary_data_output": True}},
        floats.tobytes(), ints.tobytes(), bytes_section(b"abc", b"\x00\xffxy"))
    request = parse_infer(body, length, LIMITS)
    x, n, s = request.inputs
    np.testing.assert_array_equal(x.value, floats)
    assert x.value.dtype == np.float32 and np.shares_memory(x.value, np.frombuffer(body, np.uint8))
    np.testing.assert_array_equal(n.value, ints)
    assert s.value.tolist() == [b"abc", b"\x00\xffxy"]
    assert request.id == "r1" and request.timeout_s == 0.25 and request.binary_output
    assert (request.outputs[0].binary, request.outputs[0].classification) == (True, 2)


def test_json_data_flat_or_nested_row_major():
    for data in ([1, 2, 3, 4, 5, 6], [[1, 2, 3], [4, 5, 6]]):
        doc = {"inputs": [{"name": "x", "datatype": "INT32", "shape": [2, 3], "data": data}]}
        (x,) = parse_infer(json.dumps(doc).encode(), None, LIMITS).inputs
        assert x.value.dtype == np.int32 and x.value.tolist() == [[1, 2, 3], [4, 5, 6]]
    doc = {"inputs": [{"name": "b", "datatype": "BOOL", "shape": [2], "data": [True, False]},
                      {"name": "t", "datatype": "BYTES", "shape": [2], "data": ["hé", {"b64": "AAE="}]},
                      {"name": "h", "datatype": "FP16", "shape": [1], "data": [1]}]}
    b, t, h = parse_infer(json.dumps(doc).encode(), None, LIMITS).inputs
    assert b.value.tolist() == [True, False]
    assert t.value.tolist() == ["hé".encode(), b"\x00\x01"]
    assert h.value.dtype == np.float16


def refused(body: bytes, length=None, says="") -> str:
    with pytest.raises(InvalidArgument) as info:
        parse_infer(body, length, LIMITS)
    assert says.lower() in info.value.message.lower(), info.value.message
    return info.value.message


def one_input(**fields) -> dict:
    return {"inputs": [{"name": "x", "datatype": "FP32", "shape": [2], **fields}]}


@pytest.mark.parametrize("length, says", [("abc", "non-negative integer"), ("-3", "non-negative integer"),
                                          ("99999", "only"), ("0", "missing"), ("1e3", "integer")])
def test_bad_header_lengths(length, says):
    body, _ = binary_body(one_input(parameters={"binary_data_size": 8}), b"\0" * 8)
    refused(body, length, says)


def test_sizes_that_disagree_with_shapes_or_the_body():
    body, length = binary_body(one_input(parameters={"binary_data_size": 4}), b"\0" * 4)
    refused(body, length, "needs 2 x 4 bytes")
    body, length = binary_body(one_input(parameters={"binary_data_size": 8}), b"\0" * 5)
    refused(body, length, "runs past the end")  # truncated binary section
    body, length = binary_body(one_input(parameters={"binary_data_size": 8}), b"\0" * 12)
    refused(body, length, "after the last binary input")  # trailing bytes
    body, length = binary_body({"inputs": [{"name": "x", "datatype": "FP32", "shape": [2**40, 2**40],
                                            "parameters": {"binary_data_size": 8}}]}, b"\0" * 8)
    refused(body, length, "needs")  # an element count past any int64: Python integers, no wrap
    body, length = binary_body(one_input(parameters={"binary_data_size": -1}), b"")
    refused(body, length, ">= 0")


def test_bytes_lengths_past_the_end_and_leftovers():
    body, length = binary_body({"inputs": [{"name": "s", "datatype": "BYTES", "shape": [1],
                                            "parameters": {"binary_data_size": 6}}]},
                               struct.pack("<I", 1000) + b"ab")
    refused(body, length, "claims 1000 bytes")
    body, length = binary_body({"inputs": [{"name": "s", "datatype": "BYTES", "shape": [2**62],
                                            "parameters": {"binary_data_size": 7}}]}, bytes_section(b"abc"))
    refused(body, length, "need at least")
    body, length = binary_body({"inputs": [{"name": "s", "datatype": "BYTES", "shape": [1],
                                            "parameters": {"binary_data_size": 9}}]}, bytes_section(b"abc") + b"zz")
    refused(body, length, "left over")


@pytest.mark.parametrize("fields, says", [
    ({"datatype": "FLOAT"}, "unknown datatype"),
    ({"shape": [-1]}, "non-negative"),
    ({"shape": [True]}, "non-negative"),
    ({"shape": [1] * 65}, "rank"),
    ({"data": [1, 2, 3]}, "needs 2 elements"),
    ({"data": [[1], [2, 3]]}, "regular"),
    ({"data": ["a", "b"]}, "strings"),
    ({"datatype": "INT8", "data": [1.5, 2]}, "floating"),
    ({"datatype": "INT8", "data": [1, 300]}, "out of range"),
    ({"datatype": "BOOL", "data": [1, 0]}, "integers"),
    ({"datatype": "BYTES", "data": [1, 2]}, "strings"),
    ({}, "give 'data'"),
    ({"data": [1, 2], "parameters": {"binary_data_size": 8}}, "not both"),
])
def test_shape_and_datatype_mismatches(fields, says):
    doc = one_input(**fields)
    if "data" not in fields and "parameters" not in fields and fields:
        doc["inputs"][0]["data"] = [1, 2]
    refused(json.dumps(doc).encode(), None, says)


def test_bool_bytes_must_be_zero_or_one():
    body, length = binary_body({"inputs": [{"name": "b", "datatype": "BOOL", "shape": [2],
                                            "parameters": {"binary_data_size": 2}}]}, b"\x01\x07")
    refused(body, length, "0 or 1")


def test_request_level_mistakes():
    refused(b"", None, "empty")
    refused(b"[1]", None, "JSON object")
    refused(json.dumps({"inputs": []}).encode(), None, "non-empty")
    doc = one_input(data=[1, 2])
    doc["inputs"].append(doc["inputs"][0])
    refused(json.dumps(doc).encode(), None, "twice")
    refused(json.dumps({**one_input(data=[1, 2]), "parameters": {"timeout": "soon"}}).encode(), None, "timeout")
    refused(json.dumps({**one_input(data=[1, 2]), "outputs": [{"name": "y"}, {"name": "y"}]}).encode(), None, "twice")
    with pytest.raises(LimitExceeded):
        parse_infer(json.dumps({"inputs": [{"name": f"i{i}", "datatype": "FP32", "shape": [1], "data": [1]}
                                           for i in range(LIMITS.max_inputs + 1)]}).encode(), None, LIMITS)


def test_decompression_both_ways_and_bombs():
    text = b'{"inputs": []}' * 10
    assert decompress(gzip.compress(text), "gzip", 1000) == text
    assert decompress(zlib.compress(text), "deflate", 1000) == text
    raw = zlib.compressobj(wbits=-15)
    assert decompress(raw.compress(text) + raw.flush(), "deflate", 1000) == text
    bomb = gzip.compress(b"\0" * 10_000_000)
    assert len(bomb) < 20_000
    with pytest.raises(LimitExceeded) as info:
        decompress(bomb, "gzip", 1_000_000)
    assert info.value.status == 413 and "1000000 bytes" in info.value.message
    assert decompress(gzip.compress(b"x" * 1000), "gzip", 1000) == b"x" * 1000  # the limit itself is fine
    with pytest.raises(InvalidArgument, match="truncated"):
        decompress(gzip.compress(text)[:-12], "gzip", 1000)
    with pytest.raises(InvalidArgument, match="does not decompress"):
        decompress(b"not gzip at all", "gzip", 1000)
    with pytest.raises(UnsupportedMediaType):
        decompress(text, "br", 1000)


def test_accept_encoding():
    assert v2_format.response_encoding("gzip, deflate") == "gzip"
    assert v2_format.response_encoding("deflate") == "deflate"
    assert v2_format.response_encoding("gzip;q=0, deflate;q=0.5") == "deflate"
    assert v2_format.response_encoding("br") is None and v2_format.response_encoding(None) is None
    assert gzip.decompress(v2_format.compress(b"abc", "gzip")) == b"abc"
    assert zlib.decompress(v2_format.compress(b"abc", "deflate")) == b"abc"


# ---- answer direction -----------------------------------------------------------------------

def test_json_answer():
    body, length = render_infer("m", "2", "r1", [OutputTensor("y", np.array([[1.5, 2.0]], np.float32)),
                                                 OutputTensor("s", np.array([b"ok", b"\xff"], dtype=object))])
    assert length is None
    assert json.loads(body) == {"model_name": "m", "model_version": "2", "id": "r1", "outputs": [
        {"name": "y", "datatype": "FP32", "shape": [1, 2], "data": [1.5, 2.0]},
        {"name": "s", "datatype": "BYTES", "shape": [2], "data": ["ok", {"b64": "/w=="}]}]}


def test_binary_answer_bytes():
    y = np.array([[1, 2], [3, 4]], dtype=np.int16)
    body, length = render_infer("m", None, None, [OutputTensor("y", y, binary=True),
                                                  OutputTensor("s", np.array([b"ab", b""], dtype=object), binary=True),
                                                  OutputTensor("f", np.array([True]))])
    header = json.loads(body[:length])
    assert header == {"model_name": "m", "outputs": [
        {"name": "y", "datatype": "INT16", "shape": [2, 2], "parameters": {"binary_data_size": 8}},
        {"name": "s", "datatype": "BYTES", "shape": [2], "parameters": {"binary_data_size": 10}},
        {"name": "f", "datatype": "BOOL", "shape": [1], "data": [True]}]}
    assert body[length:] == b"\x01\x00\x02\x00\x03\x00\x04\x00" + b"\x02\x00\x00\x00ab" + b"\x00\x00\x00\x00"


# ---- the same TF Serving request whichever form carried the tensor -----------------------------

DTYPES = {"FP32": np.float32, "FP64": np.float64, "FP16": np.float16, "INT8": np.int8, "INT16": np.int16,
          "INT32": np.int32, "INT64": np.int64, "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32,
          "UINT64": np.uint64, "BOOL": np.bool_}


def tensors():
    def arrays(datatype):
        dtype = np.dtype(DTYPES[datatype])
        elements = (hnp.from_dtype(dtype, allow_nan=False, allow_infinity=False, allow_subnormal=False)
                    if dtype.kind == "f" else hnp.from_dtype(dtype))
        return hnp.arrays(dtype, hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4),
                          elements=elements).map(lambda a: (datatype, a))

    return st.sampled_from(sorted(DTYPES)).flatmap(arrays)


def request_bytes(body: bytes, length, dtype: np.dtype) -> bytes:
    request = parse_infer(body, length, LIMITS)
    config = ModelConfig(name="m", inputs={"x": InputSpec("x", "tensor", dtype, None)})
    call = predict_call(request, config, "m", None)
    tensors = InputDecoder(config, LIMITS)(call)
    return fastpack.encode_predict_request("m", tensors, signature_name="serving_default")


@settings(max_examples=150, deadline=None)
@given(tensors())
def test_json_and_binary_forms_give_the_same_tf_serving_request(case):
    datatype, arr = case
    shape = list(arr.shape)
    as_json = json.dumps({"inputs": [{"name": "x", "datatype": datatype, "shape": shape,
                                      "data": arr.reshape(-1).tolist()}]}).encode()
    as_binary, length = binary_body({"inputs": [{"name": "x", "datatype": datatype, "shape": shape,
                                                 "parameters": {"binary_data_size": arr.nbytes}}]},
                                    arr.astype(arr.dtype.newbyteorder("<")).tobytes())
    from_json = request_bytes(as_json, None, arr.dtype)
    assert from_json == request_bytes(as_binary, length, arr.dtype)
    assert from_json == fastpack.encode_predict_request("m", {"x": arr}, signature_name="serving_default")
