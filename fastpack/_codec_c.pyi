"""Type stubs for the compiled codec; the same API as fastpack._codec_py."""
from typing import Iterable, Mapping

import numpy as np

from fastpack._codec_py import MAX_DECODED_BYTES as MAX_DECODED_BYTES
from fastpack._codec_py import ModelSpec as ModelSpec

def encode_tensor(array: object) -> bytes: ...
def encode_predict_request(
    model_name: str,
    inputs: Mapping[str, object],
    *,
    signature_name: str = "",
    version: int | None = None,
    version_label: str | None = None,
    output_filter: Iterable[str] = (),
) -> bytes: ...
def decode_tensor(data: bytes, *, max_bytes: int = ...) -> np.ndarray: ...
def decode_predict_response(
    data: bytes, *, max_bytes: int = ...
) -> tuple[dict[str, np.ndarray], ModelSpec]: ...
