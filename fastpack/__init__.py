"""fastpack: TF Serving wire codec (and image kernel) without TensorFlow.

Arrays go straight to ``PredictRequest`` wire bytes and ``PredictResponse`` bytes straight back
to numpy arrays; no protobuf objects on the hot path. Each compiled module has a pure-Python twin;
``FASTPACK_NO_EXTENSIONS=1`` forces the twins and ``USING_EXTENSION`` says which are live.
"""
from fastpack import dtypes
from fastpack._codec import (
    USING_CODEC_EXTENSION,
    ModelSpec,
    decode_predict_response,
    decode_tensor,
    encode_predict_request,
    encode_tensor,
)
from fastpack.errors import DecodeError, EncodeError, FastpackError, PreprocessError

from fastpack._kernel import USING_KERNEL_EXTENSION, ImageBatch, preprocess
from fastpack.imageparams import PreprocessParams

# True only when every compiled module (codec and image kernel) is live.
USING_EXTENSION = USING_CODEC_EXTENSION and USING_KERNEL_EXTENSION

__all__ = [
    "USING_EXTENSION",
    "FastpackError",
    "DecodeError",
    "EncodeError",
    "PreprocessError",
    "ModelSpec",
    "encode_tensor",
    "encode_predict_request",
    "decode_predict_response",
    "decode_tensor",
    "dtypes",
    "ImageBatch",
    "PreprocessParams",
    "preprocess",
]
