"""Pick the wire codec: the Cython extension unless FASTPACK_NO_EXTENSIONS=1 or it did not build.

Both modules have the same API; ``_codec_py`` is the readable reference, ``_codec_c`` the fast one.
Type checkers read ``_codec_py`` (see ``_choose``).
"""
from typing import TYPE_CHECKING

from fastpack._choose import NO_EXTENSIONS, compiled_or_twin, is_compiled

if TYPE_CHECKING or NO_EXTENSIONS:
    from fastpack import _codec_py as impl
else:
    impl = compiled_or_twin("fastpack._codec_c", "fastpack._codec_py")

USING_CODEC_EXTENSION = is_compiled(impl)

ModelSpec = impl.ModelSpec
encode_tensor = impl.encode_tensor
encode_predict_request = impl.encode_predict_request
decode_tensor = impl.decode_tensor
decode_predict_response = impl.decode_predict_response
