"""Null models: any declared signature, deterministic outputs, no compute (benchmark backend).

Declared on the command line as NAME:INPUTS:OUTPUTS, each side a comma-separated list of
alias=dtype[dims], e.g. ``inception:images=float32[-1,299,299,3]:scores=float32[-1,1001]``.
A leading -1 follows the request's batch size; any other -1 becomes 1. Outputs are a fixed
function of the output alias and shape, computed once per shape and then reused, so answering
costs only the encoding.
"""
import re
import zlib

import numpy as np

from ..signatures import (DEFAULT_SIGNATURE, Servable, Signature, TensorSpec, datatype_by_name,
                          numpy_dtype)

_TENSOR = re.compile(r"\s*([A-Za-z_][\w./-]*)\s*=\s*(\w+)\s*\[([-\d,\s]*)\]\s*")
_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_CACHE_LIMIT = 64


def _parse_tensors(text: str, what: str) -> dict[str, tuple[int, tuple[int, ...]]]:
    tensors, position = {}, 0
    while position < len(text):
        match = _TENSOR.match(text, position)
        if not match:
            raise ValueError(f"cannot read {what} at {text[position:]!r}; "
                             "expected alias=dtype[dim,...], e.g. images=float32[-1,224,224,3]")
        alias, dtype_name, dims = match.groups()
        shape = tuple(int(d) for d in dims.replace(" ", "").split(",") if d)
        if any(d < -1 for d in shape):
            raise ValueError(f"bad dimension in {match.group(0)!r}")
        if alias in tensors:
            raise ValueError(f"{what} alias {alias!r} declared twice")
        tensors[alias] = (datatype_by_name(dtype_name), shape)
        position = match.end()
        if position < len(text):
            if text[position] != ",":
                raise ValueError(f"expected ',' between {what} at {text[position:]!r}")
            position += 1
    if not tensors:
        raise ValueError(f"a null model needs at least one {what[:-1]}")
    return tensors


def parse_null_spec(text: str) -> tuple[str, Signature]:
    """NAME:INPUTS:OUTPUTS -> (model name, its serving_default signature)."""
    parts = text.split(":")
    if len(parts) != 3 or not _NAME.fullmatch(parts[0]):
        raise ValueError(f"--null_model {text!r}: expected NAME:INPUTS:OUTPUTS, e.g. "
                         "'inception:images=float32[-1,299,299,3]:scores=float32[-1,1001]'")
    name, inputs, outputs = parts[0], _parse_tensors(parts[1], "inputs"), _parse_tensors(
        parts[2], "outputs")
    signature = Signature(
        inputs={a: TensorSpec(f"serving_default_{a}:0", t, s) for a, (t, s) in inputs.items()},
        outputs={a: TensorSpec(f"StatefulPartitionedCall:{i}", t, s)
                 for i, (a, (t, s)) in enumerate(outputs.items())},
    )
    return name, signature


def fixed_output(alias: str, datatype: int, shape: tuple[int, ...]) -> np.ndarray:
    """The deterministic value a null model answers for one output alias and shape."""
    dtype = numpy_dtype(datatype)
    count = int(np.prod(shape, dtype=np.int64))
    seed = zlib.crc32(alias.encode())
    ramp = (np.arange(count, dtype=np.int64) * 40503 + seed) % 1000
    if dtype.kind == "O":
        values = np.empty(count, dtype=object)
        values[:] = [b"null"] * count
    elif dtype.kind == "b":
        values = ramp % 2 == 1
    elif dtype.kind in "fc":
        values = (ramp / 1000.0).astype(dtype)
    else:
        values = (ramp % 100).astype(dtype)
    return values.reshape(shape)


class NullModel(Servable):
    """Validates like a real model, then answers cached fixed outputs sized to the batch."""

    def __init__(self, name: str, signature: Signature, version: int = 1):
        super().__init__(name, version, {DEFAULT_SIGNATURE: signature})
        self._cache: dict[tuple, np.ndarray] = {}

    @classmethod
    def from_spec(cls, text: str) -> "NullModel":
        name, signature = parse_null_spec(text)
        return cls(name, signature)

    def run(self, signature_name, inputs, output_aliases):
        signature = self.signatures[signature_name]
        batch = next((inputs[a].shape[0] for a, spec in signature.inputs.items()
                      if spec.shape and spec.shape[0] == -1 and inputs[a].ndim), 1)
        results = {}
        for alias in output_aliases:
            spec = signature.outputs[alias]
            shape = tuple(batch if (i == 0 and d == -1) else (1 if d == -1 else d)
                          for i, d in enumerate(spec.shape or ()))
            key = (alias, shape)
            value = self._cache.get(key)  # one lookup: other RPC threads may clear the cache
            if value is None:
                if len(self._cache) >= _CACHE_LIMIT:
                    self._cache.clear()
                value = self._cache[key] = fixed_output(alias, spec.datatype, shape)
            results[alias] = value
        return results
