"""The preprocess stage: decoded pixels -> normalised tensor bytes, written in place.

fastpack's ``ImageBatch`` is a TensorWriter: the codec sizes the request, then the kernel
resizes, normalises and lays out every image straight into its slice of the request bytes.
``TimedWriter`` measures that work so it is reported as "preprocess", apart from "pack".
"""
from __future__ import annotations

import time

import fastpack

_now = time.perf_counter


def image_writer(images: list, params) -> "fastpack.ImageBatch":
    """A TensorWriter for ``images`` (Pillow "RGB"/"L" images or uint8 arrays), with the
    ``PreprocessParams`` the model's decoder built once from its spec."""
    return fastpack.ImageBatch(images, params)


class TimedWriter:
    """Wraps a TensorWriter to time its write_into (the image kernel's work)."""

    __slots__ = ("writer", "dtype", "shape", "seconds")

    def __init__(self, writer):
        self.writer, self.dtype, self.shape, self.seconds = writer, writer.dtype, tuple(writer.shape), 0.0

    def write_into(self, buf) -> None:
        start = _now()
        self.writer.write_into(buf)
        self.seconds += _now() - start


def timed(tensors: dict) -> dict:
    """The tensors with every writer wrapped in a TimedWriter (arrays pass through)."""
    return {name: (TimedWriter(v) if hasattr(v, "write_into") else v) for name, v in tensors.items()}


def kernel_seconds(tensors: dict) -> float:
    return sum(w.seconds for w in tensors.values() if isinstance(w, TimedWriter))
