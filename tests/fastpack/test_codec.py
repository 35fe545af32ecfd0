"""fastpack codec behaviour on both implementations, checked against our own wire protos.

Interop with the official TensorFlow classes is in test_codec_interop.py (marked tensorflow).
"""
import struct

import numpy as np
import pytest

from fastpack.errors import DecodeError, EncodeError
from sanic_app.protos import serving_pb2, tensor_pb2
from tests.fastpack.conftest import key, lfield, response, shape, varint, vfield

NUMERIC = ["f2", "f4", "f8", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "?", "c8", "c16"]
DT = {"f4": 1, "f8": 2, "i4": 3, "u1": 4, "i2": 5, "i1": 6, "c8": 8, "i8": 9, "?": 10,
      "u2": 17, "c16": 18, "f2": 19, "u4": 22, "u8": 23}


def sample(dtype, shape_):
    rng = np.random.default_rng(7)
    if dtype == "?":
        return rng.integers(0, 2, size=shape_).astype(bool)
    if np.dtype(dtype).kind == "c":
        return (rng.standard_normal(shape_) + 1j * rng.standard_normal(shape_)).astype(dtype)
    if np.dtype(dtype).kind == "f":
        return rng.standard_normal(shape_).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=shape_, dtype=dtype, endpoint=True)


def assert_same(got, want):
    assert got.dtype == want.dtype and got.shape == want.shape
    if got.dtype == object:
        assert got.tolist() == want.tolist()
    else:
        np.testing.assert_array_equal(got, want)


# ---- encoding -----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", NUMERIC)
@pytest.mark.parametrize("shape_", [(), (0,), (3,), (2, 0, 4), (2, 3, 4)])
def test_numeric_tensor_roundtrip_and_official_parse(codec, dtype, shape_):
    arr = sample(dtype, shape_)
    wire = codec.encode_tensor(arr)
    proto = tensor_pb2.TensorProto.FromString(wire)
    assert proto.dtype == DT[dtype]
    assert [d.size for d in proto.tensor_shape.dim] == list(shape_)
    assert proto.tensor_content == arr.astype(arr.dtype.newbyteorder("<")).tobytes()
    assert_same(codec.decode_tensor(wire), arr)


def test_both_implementations_write_identical_bytes(both_codecs):
    inputs = {"a": sample("f4", (2, 3)), "b": np.array([b"x", b"yz"]), "c": sample("c16", ())}
    kwargs = dict(signature_name="sig", version=-7, output_filter=["o1", "o2"])
    wires = {m.encode_predict_request("model", inputs, **kwargs) for m in both_codecs}
    assert len(wires) == 1


@pytest.mark.parametrize("make", [
    lambda a: a[:, ::2],                       # strided
    lambda a: a.T,                             # Fortran order
    lambda a: a.astype(">f4"),                 # big-endian
    lambda a: a.astype(">f4")[::-1],           # both
])
def test_awkward_layouts_are_converted_not_misencoded(codec, make):
    arr = make(sample("f4", (4, 6)))
    got = codec.decode_tensor(codec.encode_tensor(arr))
    assert got.dtype == np.dtype("f4")
    np.testing.assert_array_equal(got, arr)


def test_python_scalars_and_lists(codec):
    assert_same(codec.decode_tensor(codec.encode_tensor(3.5)), np.array(3.5))
    assert_same(codec.decode_tensor(codec.encode_tensor(np.int16(-4))), np.array(-4, "i2"))
    assert_same(codec.decode_tensor(codec.encode_tensor([[1, 2], [3, 4]])), np.array([[1, 2], [3, 4]]))


@pytest.mark.parametrize("arr", [
    np.array([b"a", b"", b"\x00\xffz"], dtype=object),
    np.array(["h\u00e9", "", "\u20ac"]),
    np.array([[b"ab"], [b"c"]]),
    np.array(b"scalar"),
])
def test_strings_go_in_string_val(codec, arr):
    wire = codec.encode_tensor(arr)
    proto = tensor_pb2.TensorProto.FromString(wire)
    want = [s.encode() if isinstance(s, str) else s for s in arr.reshape(-1).tolist()]
    assert proto.dtype == 7 and list(proto.string_val) == want and not proto.tensor_content
    got = codec.decode_tensor(wire)
    assert got.shape == arr.shape and got.reshape(-1).tolist() == want


@pytest.mark.parametrize("bad", [
    np.array([1, "x", None], dtype=object),
    np.array(["\ud800"]),                     # a lone surrogate is not UTF-8 text
    np.zeros(2, dtype="M8[s]"),
    np.zeros(2, dtype=[("a", "i4")]),
    np.zeros(2, dtype=np.longdouble) if np.dtype(np.longdouble).itemsize > 8 else np.zeros(2, "V3"),
])
def test_unencodable_arrays_raise_encode_error(codec, bad):
    with pytest.raises(EncodeError):
        codec.encode_tensor(bad)


def test_predict_request_parses_with_our_protos(codec):
    inputs = {"image": sample("f4", (1, 8, 8, 1)), "ids": sample("i8", (2,)), "text": np.array(["q"])}
    wire = codec.encode_predict_request("digits", inputs, signature_name="serving_default",
                                        version=12, output_filter=["probabilities"])
    req = serving_pb2.PredictRequest.FromString(wire)
    assert req.model_spec.name == "digits" and req.model_spec.signature_name == "serving_default"
    assert req.model_spec.WhichOneof("version_choice") == "version"
    assert req.model_spec.version.value == 12
    assert list(req.output_filter) == ["probabilities"]
    assert set(req.inputs) == set(inputs)
    for name, arr in inputs.items():
        assert_same(codec.decode_tensor(req.inputs[name].SerializeToString()),
                    arr if arr.dtype != np.dtype("U1") else np.array([b"q"], dtype=object))


def test_version_label_and_version_zero(codec):
    req = serving_pb2.PredictRequest.FromString(codec.encode_predict_request("m", {}, version_label="stable"))
    assert req.model_spec.WhichOneof("version_choice") == "version_label"
    assert req.model_spec.version_label == "stable"
    req = serving_pb2.PredictRequest.FromString(codec.encode_predict_request("m", {}, version=0))
    assert req.model_spec.WhichOneof("version_choice") == "version"


@pytest.mark.parametrize("kwargs", [
    dict(version=1, version_label="a"),
    dict(version="3"),
    dict(version=1 << 63),
    dict(signature_name=b"bytes"),
])
def test_bad_request_arguments_raise_encode_error(codec, kwargs):
    with pytest.raises(EncodeError):
        codec.encode_predict_request("m", {"x": np.zeros(1)}, **kwargs)


def test_bad_names_raise_encode_error(codec):
    with pytest.raises(EncodeError):
        codec.encode_predict_request(None, {})
    with pytest.raises(EncodeError):
        codec.encode_predict_request("m", {1: np.zeros(1)})
    with pytest.raises(EncodeError):
        codec.encode_predict_request("m", {}, output_filter=["\udfff"])


class Writer:
    """A TensorWriter that fills its slice with a known pattern (and can misbehave)."""

    def __init__(self, arr, keep=False, fail=False):
        self.arr, self.keep, self.fail = arr, keep, fail
        self.dtype, self.shape = arr.dtype, arr.shape
        self.seen = None

    def write_into(self, buf):
        assert len(buf) == self.arr.nbytes and not buf.readonly
        if self.fail:
            raise RuntimeError("writer failed")
        view = np.frombuffer(buf, dtype=np.uint8)
        view[:] = self.arr.reshape(-1).view(np.uint8)
        if self.keep:
            self.seen = view


def test_tensor_writer_fills_its_payload(codec):
    arr = sample("f4", (2, 5, 3))
    wire = codec.encode_predict_request("m", {"x": Writer(arr), "y": arr})
    req = serving_pb2.PredictRequest.FromString(wire)
    assert req.inputs["x"] == req.inputs["y"]
    assert_same(codec.decode_tensor(req.inputs["x"].SerializeToString()), arr)


def test_tensor_writer_errors(codec):
    with pytest.raises(RuntimeError, match="writer failed"):
        codec.encode_predict_request("m", {"x": Writer(np.zeros(3, "f4"), fail=True)})
    bad = Writer(np.zeros(3, "f4"))
    bad.dtype = np.dtype(">f4")
    with pytest.raises(EncodeError):
        codec.encode_predict_request("m", {"x": bad})
    bad.dtype, bad.shape = np.dtype("f4"), (3, -1)
    with pytest.raises(EncodeError):
        codec.encode_predict_request("m", {"x": bad})


def test_extension_refuses_a_writer_that_keeps_the_buffer(both_codecs):
    for mod in both_codecs[1:]:
        writer = Writer(np.ones(4, "f4"), keep=True)
        with pytest.raises(EncodeError):
            mod.encode_predict_request("m", {"x": writer})


# ---- decoding -----------------------------------------------------------------------------


def packed_f32(values):
    return struct.pack(f"<{len(values)}f", *values)


def test_float_val_packed_unpacked_and_mixed(codec):
    values = [1.5, -2.0, 3.25, 0.0]
    packed = vfield(1, 1) + shape(2, 2) + lfield(5, packed_f32(values))
    unpacked = vfield(1, 1) + shape(2, 2) + b"".join(key(5, 5) + packed_f32([v]) for v in values)
    mixed = (shape(2, 2) + key(5, 5) + packed_f32(values[:1]) + lfield(5, packed_f32(values[1:3]))
             + key(5, 5) + packed_f32(values[3:]) + vfield(1, 1))  # dtype last
    want = np.array(values, "f4").reshape(2, 2)
    for wire in (packed, unpacked, mixed):
        assert_same(codec.decode_tensor(wire), want)


@pytest.mark.parametrize("datatype,field,values,dtype", [
    (3, 7, [-1, 2**31 - 1, -2**31], "i4"),
    (5, 7, [-1, 300, -32768], "i2"),
    (6, 7, [-1, 127, 300], "i1"),          # int_val narrowed like TF's C++ cast
    (4, 7, [255, 1, 256], "u1"),
    (17, 7, [65535, 0, 7], "u2"),
    (9, 10, [-(2**63), 2**63 - 1, -5], "i8"),
    (22, 16, [2**32 - 1, 0, 9], "u4"),
    (23, 17, [2**64 - 1, 0, 9], "u8"),
    (10, 11, [1, 0, 5], "?"),
])
def test_varint_fields_packed_and_unpacked(codec, datatype, field, values, dtype):
    want = np.array([v & ((1 << 64) - 1) for v in values], dtype="u8").astype(dtype)
    if dtype == "?":
        want = np.array([v != 0 for v in values])
    packed = vfield(1, datatype) + shape(3) + lfield(field, b"".join(varint(v) for v in values))
    unpacked = shape(3) + b"".join(vfield(field, v) for v in values) + vfield(1, datatype)
    for wire in (packed, unpacked):
        assert_same(codec.decode_tensor(wire), want)


def test_half_val_holds_float16_bits(codec):
    want = np.array([1.5, -0.0, 65504, np.inf], dtype="f2")
    bits = want.view("u2").astype(np.int64).tolist()
    wire = vfield(1, 19) + shape(4) + lfield(13, b"".join(varint(b) for b in bits))
    assert_same(codec.decode_tensor(wire), want)


@pytest.mark.parametrize("datatype,field,wire_type,fmt,dtype", [
    (8, 9, 5, "<f", "c8"), (18, 12, 1, "<d", "c16"), (2, 6, 1, "<d", "f8")])
def test_complex_and_double_vals(codec, datatype, field, wire_type, fmt, dtype):
    parts = [1.0, 2.0, -3.0, 4.5]
    unpacked = b"".join(key(field, wire_type) + struct.pack(fmt, p) for p in parts)
    packed = lfield(field, b"".join(struct.pack(fmt, p) for p in parts))
    if dtype == "f8":
        want = np.array(parts, "f8")
    else:
        want = np.array([1 + 2j, -3 + 4.5j], dtype)
    for body in (unpacked, packed):
        assert_same(codec.decode_tensor(vfield(1, datatype) + shape(len(want)) + body), want)


def test_one_value_broadcasts_and_fewer_repeat_the_last(codec):
    one = vfield(1, 1) + shape(2, 3) + lfield(5, packed_f32([7.0]))
    assert_same(codec.decode_tensor(one), np.full((2, 3), 7.0, "f4"))
    two = vfield(1, 9) + shape(5) + lfield(10, varint(1) + varint(2))
    assert_same(codec.decode_tensor(two), np.array([1, 2, 2, 2, 2]))
    cplx = vfield(1, 8) + shape(3) + lfield(9, packed_f32([1, 2]))
    assert_same(codec.decode_tensor(cplx), np.full(3, 1 + 2j, "c8"))
    strs = vfield(1, 7) + shape(3) + lfield(8, b"x")
    assert codec.decode_tensor(strs).tolist() == [b"x"] * 3
    none = vfield(1, 3) + shape(2)
    assert_same(codec.decode_tensor(none), np.zeros(2, "i4"))
    assert codec.decode_tensor(vfield(1, 7) + shape(2)).tolist() == [b"", b""]


def test_scalars_and_zero_element_tensors(codec):
    assert_same(codec.decode_tensor(vfield(1, 1) + lfield(5, packed_f32([2.5]))), np.array(2.5, "f4"))
    assert_same(codec.decode_tensor(vfield(1, 1)), np.array(0, "f4"))  # no shape, no values
    assert_same(codec.decode_tensor(vfield(1, 1) + shape(3, 0)), np.zeros((3, 0), "f4"))


def test_tensor_content_is_a_read_only_view_when_aligned(codec):
    arr = sample("f4", (4, 4))
    for pad in range(4):  # shift tensor_content through every alignment
        wire = vfield(1, 1) + shape(4, 4) + lfield(15, b"p" * pad) + lfield(4, arr.tobytes())
        got = codec.decode_tensor(wire)
        assert_same(got, arr)
        assert got.flags.aligned
        if np.shares_memory(got, np.frombuffer(wire, np.uint8)):
            assert not got.flags.writeable


def test_aligned_tensor_content_is_not_copied(both_codecs):
    arr = sample("f8", (16,))
    for mod in both_codecs:
        views = 0
        for pad in range(8):
            wire = vfield(1, 2) + shape(16) + lfield(15, b"p" * pad) + lfield(4, arr.tobytes())
            views += np.shares_memory(mod.decode_tensor(wire), np.frombuffer(wire, np.uint8))
        assert views >= 1  # at least one padding lands aligned


def test_bool_content_is_normalised(codec):
    wire = vfield(1, 10) + shape(3) + lfield(4, b"\x00\x02\xff")
    got = codec.decode_tensor(wire)
    assert got.tolist() == [False, True, True]
    assert got.view(np.uint8).tolist() == [0, 1, 1]


def test_unknown_fields_and_groups_are_skipped(codec):
    group = key(30, 3) + vfield(1, 5) + key(31, 3) + key(31, 4) + key(30, 4)
    wire = (vfield(99, 12345) + key(98, 1) + b"8bytes!!" + key(97, 5) + b"4byt" + group
            + vfield(1, 1) + lfield(77, b"junk") + shape(2) + vfield(5, 3)  # float_val as varint
            + lfield(5, packed_f32([1, 2])))
    assert_same(codec.decode_tensor(wire), np.array([1, 2], "f4"))


def test_response_outputs_and_model_spec(codec):
    spec = lfield(1, "inc") + lfield(2, vfield(1, 3)) + lfield(3, "serving_default")
    wire = response({"scores": vfield(1, 1) + shape(1, 2) + lfield(5, packed_f32([0.25, 0.75])),
                     "classes": vfield(1, 9) + shape(1) + lfield(10, varint(4))}, spec)
    outputs, model = codec.decode_predict_response(wire)
    assert model == ("inc", 3, None, "serving_default")
    assert model.version == 3 and model.version_label is None
    assert set(outputs) == {"scores", "classes"}
    assert_same(outputs["scores"], np.array([[0.25, 0.75]], "f4"))
    assert_same(outputs["classes"], np.array([4]))


def test_response_merge_semantics(codec):
    # A repeated key replaces the earlier entry; split values of one entry merge; model_spec
    # occurrences merge and the version oneof keeps the last choice.
    first = vfield(1, 3) + shape(1) + lfield(7, varint(1))
    entry = lfield(1, "y") + lfield(2, vfield(1, 3) + shape(2)) + lfield(2, lfield(7, varint(5) + varint(6)))
    wire = (response({"y": first}, lfield(1, "a") + lfield(4, "canary"))
            + lfield(1, entry) + lfield(2, lfield(2, vfield(1, 9)) + lfield(3, "s")))
    outputs, model = codec.decode_predict_response(wire)
    assert_same(outputs["y"], np.array([5, 6], "i4"))
    assert model == ("a", 9, None, "s")
    _, model = codec.decode_predict_response(lfield(2, lfield(2, b"") + lfield(4, "x")))
    assert model == ("", None, "x", "")
    _, model = codec.decode_predict_response(b"")
    assert model == ("", None, None, "")


def test_decoders_accept_other_buffers(codec):
    wire = vfield(1, 1) + shape(2) + lfield(5, packed_f32([1, 2]))
    assert_same(codec.decode_tensor(bytearray(wire)), np.array([1, 2], "f4"))
    assert_same(codec.decode_tensor(memoryview(wire)), np.array([1, 2], "f4"))
    with pytest.raises(DecodeError):
        codec.decode_tensor("text is not bytes")


BAD = {
    "truncated varint": vfield(1, 1)[:1] + b"\x80",
    "eleven-byte varint": key(1, 0) + b"\xff" * 10 + b"\x01",
    "length past end": key(4, 2) + varint(100) + b"abc",
    "fixed past end": key(5, 5) + b"ab",
    "field zero": vfield(0, 1),
    "wire type 7": key(3, 7),
    "stray end group": key(3, 4),
    "unclosed group": key(3, 3) + vfield(1, 1),
    "deep groups": key(3, 3) * 100,
    "unknown dtype": vfield(1, 14) + shape(1),
    "invalid dtype": shape(1),
    "negative dim": vfield(1, 1) + shape(-1),
    "unknown rank": vfield(1, 1) + lfield(2, vfield(3, 1)),
    "content size": vfield(1, 1) + shape(2) + lfield(4, b"12345"),
    "string content": vfield(1, 7) + shape(1) + lfield(4, b"abcd"),
    "too many values": vfield(1, 1) + shape(1) + lfield(5, packed_f32([1, 2])),
    "partial packed": vfield(1, 1) + shape(1) + lfield(5, b"abc"),
    "odd complex": vfield(1, 8) + shape(1) + lfield(9, packed_f32([1, 2, 3])),
    "bad packed varint": vfield(1, 3) + shape(1) + lfield(7, b"\x80"),
    "huge shape": vfield(1, 1) + shape(1 << 40, 1 << 40) + lfield(5, packed_f32([1])),
    "big broadcast": vfield(1, 1) + shape(1 << 29) + lfield(5, packed_f32([1])),
    "rank 65": vfield(1, 1) + shape(*[1] * 65),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_malformed_tensors_raise_decode_error(codec, name):
    with pytest.raises(DecodeError):
        codec.decode_tensor(BAD[name])
    with pytest.raises(DecodeError):
        codec.decode_predict_response(response({"x": BAD[name]}))


def test_bad_utf8_names_raise_decode_error(codec):
    with pytest.raises(DecodeError):
        codec.decode_predict_response(lfield(1, lfield(1, b"\xff") + lfield(2, vfield(1, 1))))
    with pytest.raises(DecodeError):
        codec.decode_predict_response(lfield(2, lfield(1, b"\xc3")))


def test_max_bytes_limits_the_whole_response(codec):
    tensor = vfield(1, 1) + shape(1000) + lfield(5, packed_f32([1]))
    codec.decode_predict_response(response({"a": tensor}), max_bytes=4000)
    with pytest.raises(DecodeError):
        codec.decode_predict_response(response({"a": tensor, "b": tensor}), max_bytes=7999)
