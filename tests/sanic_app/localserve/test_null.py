"""Null model declarations (--null_model NAME:INPUTS:OUTPUTS) and their outputs."""
import numpy as np
import pytest

from sanic_app.localserve.models.null import NullModel, fixed_output, parse_null_spec
from sanic_app.protos import tensor_pb2


def test_inception_spec():
    name, signature = parse_null_spec(
        "inception:images=float32[-1,299,299,3]:scores=float32[-1,1001]")
    assert name == "inception"
    assert signature.inputs["images"].shape == (-1, 299, 299, 3)
    assert signature.inputs["images"].datatype == tensor_pb2.DT_FLOAT
    assert signature.outputs["scores"].shape == (-1, 1001)


def test_several_tensors_and_dtype_spellings():
    _, signature = parse_null_spec("m:a=int64[-1, 3], b=string[-1]:x=double[],y=uint8[2,2]")
    assert list(signature.inputs) == ["a", "b"]
    assert signature.inputs["b"].datatype == tensor_pb2.DT_STRING
    assert signature.outputs["x"].shape == () and signature.outputs["x"].datatype == tensor_pb2.DT_DOUBLE


@pytest.mark.parametrize("text", [
    "inception", "m:x=float32[-1]", "m:x=float32[-1]:y=float32[-1]:extra",
    "m:x=floaty[-1]:y=float32[1]", "m:x=float32[-2]:y=float32[1]", "m::y=float32[1]",
    "m:x=float32[-1],x=float32[1]:y=float32[1]", "bad name:x=float32[1]:y=float32[1]",
    "m:x=float32[1];y=float32[1]:z=float32[1]",
])
def test_malformed_specs_are_rejected(text):
    with pytest.raises(ValueError):
        parse_null_spec(text)


def test_outputs_follow_batch_and_are_deterministic():
    model = NullModel.from_spec("m:x=float32[-1,4]:y=float32[-1,3],k=int64[-1,-1]")
    out = model.run("serving_default", {"x": np.zeros((5, 4), np.float32)}, ["y", "k"])
    assert out["y"].shape == (5, 3) and out["k"].shape == (5, 1)
    again = NullModel.from_spec("m:x=float32[-1,4]:y=float32[-1,3],k=int64[-1,-1]").run(
        "serving_default", {"x": np.ones((5, 4), np.float32)}, ["y"])
    np.testing.assert_array_equal(out["y"], again["y"])


def test_fixed_output_is_not_constant_and_depends_on_alias():
    a = fixed_output("a", tensor_pb2.DT_FLOAT, (2, 50))
    b = fixed_output("b", tensor_pb2.DT_FLOAT, (2, 50))
    assert len(np.unique(a)) > 50 and not np.array_equal(a, b)
    assert fixed_output("s", tensor_pb2.DT_STRING, (2,)).tolist() == [b"null", b"null"]
