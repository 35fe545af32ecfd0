"""TF Serving's rules for a tensor's JSON values (json_tensor_test.cc's cases), as the decode
stage applies them."""
import numpy as np
import pytest

from sanic_app.core.decode import numeric_array
from sanic_app.core.spec import InputSpec
from sanic_app.core.tf_values import tf_type_error
from sanic_app.errors import InvalidArgument


def test_lossy_numbers_are_refused_with_tf_servings_words():
    """json_tensor_test.cc: 16777217 is not a float, 9007199254740993 not a double."""
    f32 = InputSpec("x", "tensor", np.dtype("float32"), None)
    f64 = InputSpec("x", "tensor", np.dtype("float64"), None)
    for value, spec, words in [([16777217], f32, "Cannot convert JSON value: 16777217 to float"),
                               ([9007199254740993], f64, "Cannot convert JSON value: 9007199254740993 to double"),
                               ([np.nan, 3.5e38], f32, "Cannot convert JSON value: 3.5e+38 to float")]:
        with pytest.raises(InvalidArgument, match="without loss of precision") as info:
            numeric_array(value, spec, "input 'x'")
        assert info.value.message.startswith(words)
    assert numeric_array([16777215, np.inf, np.nan], f32, "input 'x'").dtype == np.float32


def test_type_errors_name_the_first_bad_value():
    assert tf_type_error([[1.0, "x"]], np.dtype("float32")) == \
        'JSON Value: "x" Type: String is not of expected type: float; '
    assert tf_type_error([1, 1.5], np.dtype("int32")) == \
        "JSON Value: 1.5 Type: Number is not of expected type: int32; "
    assert tf_type_error([True], np.dtype("float64")) == \
        "JSON Value: true Type: True is not of expected type: double; "
    assert tf_type_error([1.0, 2.0], np.dtype("float32")) == ""
