"""Pick the TF Serving JSON formatter: the Cython extension unless FASTPACK_NO_EXTENSIONS=1
or it did not build (as fastpack._codec does). Both give the same bytes."""
import os

_FORCED_PURE = os.environ.get("FASTPACK_NO_EXTENSIONS", "") not in ("", "0")

if _FORCED_PURE:
    from fastpack import _jsonfmt_py as impl
else:
    try:
        from fastpack import _jsonfmt_c as impl
    except ImportError:  # not built: tests/fastpack/test_jsonfmt.py makes this loud
        from fastpack import _jsonfmt_py as impl

USING_JSONFMT_EXTENSION = impl.__name__.endswith("_c")

tensor_json = impl.tensor_json
float32_text = impl.float32_text
float64_text = impl.float64_text
json_string = impl.json_string
string_leaf = impl.string_leaf
