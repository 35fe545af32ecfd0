"""fastpack's TF Serving JSON formatter, both twins: TF Serving's float rule (facts from its
json_tensor.cc and json_tensor_test.cc), RapidJSON's layout and string escapes, and the
compiled module agreeing with the readable one byte for byte."""
import importlib
import json
import os

import numpy as np
import pytest

NO_EXTENSIONS = os.environ.get("FASTPACK_NO_EXTENSIONS", "") not in ("", "0")


@pytest.fixture(params=["fastpack._jsonfmt_py", "fastpack._jsonfmt_c"], ids=["py", "c"])
def fmt(request):
    try:
        return importlib.import_module(request.param)
    except ImportError:
        if NO_EXTENSIONS and request.param.endswith("_c"):
            pytest.skip("FASTPACK_NO_EXTENSIONS=1")
        raise


def test_the_extension_is_live_unless_forced_off():
    from fastpack import _jsonfmt

    assert _jsonfmt.USING_JSONFMT_EXTENSION is not NO_EXTENSIONS


# json_tensor_test.cc, FromJsonSingleFloatTensorSixDigitPrecision: six digits ("%g") when
# they read back as the same float, ".0" on whole numbers
def test_six_digit_precision_case(fmt):
    t = np.array([[9000000, 999999, 0.50000], [.0003, .00003, 555557.5]], np.float32)
    assert fmt.tensor_json(t) == b"[[9e+06, 999999.0, 0.5], [0.0003, 3e-05, 555557.5]]"


# FromJsonSingleFloatTensorNonFinite
def test_non_finite_case(fmt):
    t = np.array([[np.nan, np.inf], [3, -np.inf]], np.float32)
    assert fmt.tensor_json(t) == b"[[NaN, Infinity], [3.0, -Infinity]]"


@pytest.mark.parametrize("value, text", [
    (np.float32(np.pi), b"3.14159274"),            # six digits do not read back: nine
    (np.float32(0.2), b"0.2"),
    (np.float32(1435774336), b"1.43577434e+09"),   # nine digits, exponent form (%.9g)
    (np.float32(16777216), b"16777216.0"),       # %.9g keeps eight digits whole
    (np.float32(100), b"100.0"),
    (np.float32(-0.0), b"-0.0"),
    (np.float32(1e-45), b"1.4013e-45"),
    (np.float64(0.1), b"0.1"),
    (np.float64(np.pi), b"3.1415926535897931"),   # max_digits10 for double is 17
    (np.float64(1435774336), b"1435774336.0"),
    (np.float64(1e300), b"1e+300"),
    (np.float16(0.5), b"0.5"),                     # half is written as float
    (np.int64(-(2**63)), b"-9223372036854775808"),
    (np.uint64(2**64 - 1), b"18446744073709551615"),
    (np.bool_(True), b"true"),
])
def test_single_values(fmt, value, text):
    assert fmt.tensor_json(np.asarray(value)) == text


def test_float32_texts_read_back_to_the_same_float(fmt):
    rng = np.random.default_rng(1)
    x = np.frombuffer(rng.bytes(4 * 20000), np.float32)
    x = x[np.isfinite(x)]
    assert (np.array(json.loads(fmt.tensor_json(x)), np.float32) == x).all()


def test_twins_agree_on_random_floats_and_ints():
    from fastpack import _jsonfmt_py as py

    c = pytest.importorskip("fastpack._jsonfmt_c") if NO_EXTENSIONS else importlib.import_module("fastpack._jsonfmt_c")
    rng = np.random.default_rng(2)
    for arr in (np.frombuffer(rng.bytes(4 * 5000), np.float32).reshape(10, 25, 20),
                np.frombuffer(rng.bytes(8 * 3000), np.float64).reshape(3000),
                rng.integers(-2**31, 2**31, (7, 9), dtype=np.int32),
                rng.integers(0, 2**64 - 1, 50, dtype=np.uint64),
                rng.random((4, 4)) > 0.5,
                np.zeros((2, 0, 3), np.float32),
                np.arange(24, dtype=np.float32).reshape(2, 3, 4)[:, ::2, ::-1]):  # not contiguous
        for level in (0, 1, 3):
            for single in (True, False):
                assert c.tensor_json(arr, level, single) == py.tensor_json(arr, level, single)


def test_multiline_layout_indents_by_level(fmt):
    # RapidJSON PrettyWriter default mode: an item per line, 4 spaces per open container
    t = np.array([[1, 2], [3, 4]], np.int32)
    assert fmt.tensor_json(t, 1, False) == (
        b"[\n        [\n            1,\n            2\n        ],\n"
        b"        [\n            3,\n            4\n        ]\n    ]")
    assert fmt.tensor_json(np.zeros(0), 1, False) == b"[]"


def test_strings_escape_as_rapidjson_does(fmt):
    t = np.array([b'a"b\\c/\n\t\x01\x7f', "caf\u00e9".encode()], dtype=object)
    assert fmt.tensor_json(t) == b'["a\\"b\\\\c/\\n\\t\\u0001\x7f", "caf\xc3\xa9"]'


# FromJsonSingleBytesTensor: names ending in _bytes are {"b64"} objects, which the writer
# opens on their own lines even inside a single-line array
def test_bytes_as_b64_objects(fmt):
    t = np.array([[b"hello", b"world"]], dtype=object)
    assert fmt.tensor_json(t, 1, True, True) == (
        b'[[{\n                "b64": "aGVsbG8="\n            }, '
        b'{\n                "b64": "d29ybGQ="\n            }]]')
    assert json.loads(fmt.tensor_json(t, 1, True, True)) == [[{"b64": "aGVsbG8="}, {"b64": "d29ybGQ="}]]


def test_compiled_fast_float32_path_equals_printf():
    """The compiled module decides most float32 texts with double arithmetic; where it cannot be
    sure it asks printf/strtof. Both paths must give the same text."""
    if NO_EXTENSIONS:
        pytest.skip("FASTPACK_NO_EXTENSIONS=1")
    c = importlib.import_module("fastpack._jsonfmt_c")
    rng = np.random.default_rng(3)
    values = np.concatenate([
        np.frombuffer(rng.bytes(4 * 60000), np.float32),
        rng.random(30000, dtype=np.float32),
        (rng.standard_normal(30000) * 10.0 ** rng.integers(-12, 12, 30000)).astype(np.float32),
        np.array([555557.5, 999999.5, 9999995, 123456.75, 3e10, 1e-45, 3.4028235e38,
                  1.1754944e-38, 0.1, 16777216, 1435774336], np.float32)])
    values = values[np.isfinite(values)]
    fast, printf = c.float32_fast_text, c.float32_printf_text
    assert [v for v in values.tolist() if fast(v) != printf(v)] == []
