"""fastpack's exceptions: one base class so callers can catch every codec failure at once.

All of them subclass ``ValueError`` because each one means "these bytes or this array are not
acceptable", never a bug in the caller's control flow.
"""


class FastpackError(ValueError):
    """Base class of every error fastpack raises on purpose."""


class DecodeError(FastpackError):
    """Wire bytes are malformed, truncated, or describe a tensor we refuse to build.

    The decoders treat their input as untrusted: this is the only exception they raise on
    bad bytes (never IndexError, struct.error, MemoryError from a forged length, ...).
    """


class EncodeError(FastpackError):
    """An array (or TensorWriter) cannot be expressed as a TensorProto."""


class PreprocessError(FastpackError):
    """Bad image-kernel parameters or image sizes."""


__all__ = ["FastpackError", "DecodeError", "EncodeError", "PreprocessError"]
