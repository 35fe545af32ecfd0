"""Interop with the official TensorFlow / tensorflow-serving-api classes (test-only references).

Property-based over every supported dtype and many shapes and layouts: fastpack's bytes parse
with the official classes to equal arrays, and official bytes (tensor_content, packed *_val,
hand-made unpacked *_val) decode with fastpack to equal arrays.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tests.fastpack.conftest import key, lfield, vfield

pytestmark = [pytest.mark.tensorflow]

NUMERIC = ["f2", "f4", "f8", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "?", "c8", "c16"]
SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def tf():
    return pytest.importorskip("tensorflow")


@pytest.fixture(scope="module")
def official():
    pytest.importorskip("tensorflow_serving")
    from tensorflow.core.framework import tensor_pb2
    from tensorflow_serving.apis import predict_pb2

    return tensor_pb2, predict_pb2


def shapes():
    return hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5)


@st.composite
def numeric_arrays(draw):
    """Arrays of any supported numeric dtype, also strided, Fortran-ordered or big-endian."""
    dtype = np.dtype(draw(st.sampled_from(NUMERIC)))
    arr = draw(hnp.arrays(dtype, shapes()))
    layout = draw(st.sampled_from(["plain", "big-endian", "fortran", "strided"]))
    if layout == "big-endian" and dtype.itemsize > 1:
        arr = arr.astype(dtype.newbyteorder(">"))
    elif layout == "fortran":
        arr = np.asfortranarray(arr)
    elif layout == "strided" and arr.ndim:
        arr = np.repeat(arr, 2, axis=0)[::2]
    return arr


@st.composite
def string_arrays(draw):
    text = st.text(max_size=6) if draw(st.booleans()) else st.binary(max_size=6)
    shape = draw(shapes())
    items = draw(st.lists(text, min_size=int(np.prod(shape)), max_size=int(np.prod(shape))))
    arr = np.empty(len(items), dtype=object)
    arr[:] = items
    return arr.reshape(shape)


def native(arr):
    """TF's own converters mishandle big-endian float16, so TF only ever gets native order."""
    return arr if arr.dtype.kind in "OSU" else arr.astype(arr.dtype.newbyteorder("="))


def as_wire_bytes(arr):
    """What a string tensor decodes to: an object array of UTF-8 bytes."""
    out = np.empty(arr.shape, dtype=object)
    out.reshape(-1)[:] = [s.encode() if isinstance(s, str) else s for s in arr.reshape(-1).tolist()]
    return out


def assert_equal_arrays(got, want):
    want = np.asarray(want)
    if want.dtype.kind in "OSU":
        assert got.dtype == object and got.shape == want.shape
        assert got.tolist() == as_wire_bytes(want).tolist()
        return
    assert got.shape == want.shape and got.dtype == want.dtype.newbyteorder("=")
    np.testing.assert_array_equal(got, want)


@SETTINGS
@given(arr=st.one_of(numeric_arrays(), string_arrays()))
def test_our_tensor_bytes_parse_officially(codec, tf, official, arr):
    proto = official[0].TensorProto.FromString(codec.encode_tensor(arr))
    assert_equal_arrays(tf.make_ndarray(proto), arr)


@SETTINGS
@given(arr=st.one_of(numeric_arrays(), string_arrays()))
def test_make_tensor_proto_bytes_decode(codec, tf, arr):
    wire = tf.make_tensor_proto(native(arr)).SerializeToString()
    assert_equal_arrays(codec.decode_tensor(wire), arr)


# Which official repeated field holds each dtype, as TF Serving fills outputs by default.
VAL_FIELD = {"f4": "float_val", "f8": "double_val", "i1": "int_val", "i2": "int_val",
             "i4": "int_val", "u1": "int_val", "u2": "int_val", "i8": "int64_val",
             "u4": "uint32_val", "u8": "uint64_val", "?": "bool_val", "f2": "half_val",
             "c8": "scomplex_val", "c16": "dcomplex_val"}
FIELD_NUMBER = {"float_val": (5, 5), "double_val": (6, 1), "int_val": (7, 0), "string_val": (8, 2),
                "scomplex_val": (9, 5), "int64_val": (10, 0), "bool_val": (11, 0),
                "dcomplex_val": (12, 1), "half_val": (13, 0), "uint32_val": (16, 0),
                "uint64_val": (17, 0)}


def val_values(arr):
    """(field name, python values) for putting arr in its *_val field."""
    flat = np.ascontiguousarray(arr).reshape(-1)
    if arr.dtype.kind in "OSU":
        return "string_val", [s.encode() if isinstance(s, str) else s for s in flat.tolist()]
    field = next(f for k, f in VAL_FIELD.items() if np.dtype(k) == arr.dtype)
    if field == "half_val":
        return field, flat.view(np.uint16).astype(np.int64).tolist()
    if arr.dtype.kind == "c":
        return field, flat.view(flat.real.dtype).tolist()
    return field, flat.tolist()


def unpacked(field, values, datatype, dims):
    """The same TensorProto written with every repeated value as its own field (never packed)."""
    number, wire_type = FIELD_NUMBER[field]
    fmt = {5: "<f", 1: "<d"}.get(wire_type)
    body = vfield(1, datatype) + lfield(2, b"".join(lfield(2, vfield(1, d) if d else b"") for d in dims))
    for v in values:
        if wire_type == 0:
            body += vfield(number, int(v))
        elif wire_type == 2:
            body += lfield(number, v)
        else:
            body += key(number, wire_type) + np.array(v, fmt).tobytes()
    return body


@SETTINGS
@given(arr=st.one_of(numeric_arrays(), string_arrays()), content=st.booleans(),
       broadcast=st.booleans())
def test_official_responses_decode(codec, tf, official, arr, content, broadcast):
    tensor_pb2, predict_pb2 = official
    arr = native(arr)
    proto = tf.make_tensor_proto(arr)
    if not content or arr.dtype.kind in "OSU":
        field, values = val_values(arr)
        if broadcast and arr.size > 1 and arr.dtype.kind not in "OSU":
            arr = np.broadcast_to(arr.reshape(-1)[:1], arr.shape)  # proto3: one value fills all
            values = values[:2] if field in ("scomplex_val", "dcomplex_val") else values[:1]
        proto = tensor_pb2.TensorProto(dtype=proto.dtype, tensor_shape=proto.tensor_shape)
        getattr(proto, field).extend(values)
        hand = unpacked(field, values, proto.dtype, [d.size for d in proto.tensor_shape.dim])
        assert tensor_pb2.TensorProto.FromString(hand) == proto  # the hand-made bytes are valid
        assert_equal_arrays(codec.decode_tensor(hand), arr)
    resp = predict_pb2.PredictResponse()
    resp.outputs["out"].CopyFrom(proto)
    resp.outputs["other"].CopyFrom(tf.make_tensor_proto(np.arange(3)))
    resp.model_spec.name = "m"
    resp.model_spec.version.value = 42
    resp.model_spec.signature_name = "serving_default"
    outputs, spec = codec.decode_predict_response(resp.SerializeToString())
    assert_equal_arrays(outputs["out"], arr)
    assert_equal_arrays(outputs["other"], np.arange(3))
    assert spec == ("m", 42, None, "serving_default")
    np.testing.assert_array_equal(tf.make_ndarray(proto), outputs["out"])


@SETTINGS
@given(
    inputs=st.dictionaries(st.text(min_size=1, max_size=8), st.one_of(numeric_arrays(), string_arrays()),
                           max_size=3),
    signature=st.text(max_size=10),
    version=st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)),
    label=st.one_of(st.none(), st.text(max_size=6)),
    output_filter=st.lists(st.text(max_size=6), max_size=3),
)
def test_our_request_bytes_parse_officially(codec, tf, official, inputs, signature, version,
                                            label, output_filter):
    if version is not None:
        label = None
    wire = codec.encode_predict_request("model", inputs, signature_name=signature, version=version,
                                        version_label=label, output_filter=output_filter)
    req = official[1].PredictRequest.FromString(wire)
    assert req.model_spec.name == "model" and req.model_spec.signature_name == signature
    choice = req.model_spec.WhichOneof("version_choice")
    if version is not None:
        assert choice == "version" and req.model_spec.version.value == version
    elif label is not None:
        assert choice == "version_label" and req.model_spec.version_label == label
    else:
        assert choice is None
    assert list(req.output_filter) == output_filter
    assert set(req.inputs) == set(inputs)
    for name, arr in inputs.items():
        assert_equal_arrays(tf.make_ndarray(req.inputs[name]), arr)


def test_request_bytes_equal_official_serialization(codec, tf, official):
    """Field order and defaults match the official serializer byte for byte (one input)."""
    arr = np.arange(12, dtype="f4").reshape(3, 4)
    req = official[1].PredictRequest()
    req.model_spec.name = "digits"
    req.model_spec.version.value = 2
    req.model_spec.signature_name = "serving_default"
    req.inputs["image"].CopyFrom(tf.make_tensor_proto(arr))
    req.output_filter.append("probabilities")
    ours = codec.encode_predict_request("digits", {"image": arr}, signature_name="serving_default",
                                        version=2, output_filter=["probabilities"])
    assert ours == req.SerializeToString(deterministic=True)
