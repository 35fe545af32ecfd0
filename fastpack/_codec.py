"""Pick the wire codec: the Cython extension unless FASTPACK_NO_EXTENSIONS=1 or it did not build.

Both modules have the same API; ``_codec_py`` is the readable reference, ``_codec_c`` the fast one.
"""
import os

_FORCED_PURE = os.environ.get("FASTPACK_NO_EXTENSIONS", "") not in ("", "0")

if _FORCED_PURE:
    from fastpack import _codec_py as impl
else:
    try:
        from fastpack import _codec_c as impl
    except ImportError:  # not built: tests/fastpack/test_codec_build.py makes this loud
        from fastpack import _codec_py as impl

USING_CODEC_EXTENSION = impl.__name__.endswith("_c")

ModelSpec = impl.ModelSpec
encode_tensor = impl.encode_tensor
encode_predict_request = impl.encode_predict_request
decode_tensor = impl.decode_tensor
decode_predict_response = impl.decode_predict_response
