"""The decode stage: a call's values -> one array (or image writer) per named input.

Request values are untrusted: base64 is validated, JSON numbers are converted to the spec's
dtype without silent float->int or string->number casts, shapes are checked against the spec,
and the batch gate runs once on the normalised call before any value is decoded.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pybase64

from sanic_app.core import imaging, preprocess
from sanic_app.core.call import PredictCall
from sanic_app.core.limits import Limits, check_batch
from sanic_app.core.spec import InputSpec, ModelConfig
from sanic_app.core.tf_values import check_lossless, tf_type_error
from sanic_app.errors import GatewayError, InvalidArgument


def is_b64(value) -> bool:
    return type(value) is dict and len(value) == 1 and "b64" in value


def b64_bytes(value, where: str) -> bytes:
    """Bytes of a {"b64": ...} value or raw bytes; standard alphabet, web-safe accepted too."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if not is_b64(value):
        raise InvalidArgument(f"{where}: expected {{\"b64\": \"...\"}}, got {_describe(value)}")
    text = value["b64"]
    if not isinstance(text, str):
        raise InvalidArgument(f"{where}: \"b64\" must hold a string, got {_describe(text)}")
    try:
        return pybase64.b64decode(text, validate=True)
    except ValueError:
        try:
            return pybase64.b64decode(text, altchars=b"-_", validate=True)
        except ValueError as exc:
            raise InvalidArgument(f"{where}: invalid base64 ({exc})") from None


def _describe(value) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60]}{'...' if len(text) > 60 else ''}"


def _shape_ok(expected: tuple[int, ...] | None, got: tuple[int, ...]) -> bool:
    if expected is None:
        return True
    return len(expected) == len(got) and all(e == -1 or e == g for e, g in zip(expected, got))


def _fmt_shape(shape) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


# The array kinds of JSON values a tensor of each dtype kind takes (float takes integers too).
_JSON_KINDS_FOR = {"f": "fiu", "i": "iu", "u": "iu", "b": "b"}


def numeric_array(value, spec: InputSpec, where: str) -> np.ndarray:
    """JSON numbers -> array of the spec's dtype; no silent float->int or string->number casts."""
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise InvalidArgument(f"{where}: values do not form a regular tensor ({exc})") from None
    want = spec.dtype
    kind = arr.dtype.kind
    if kind not in _JSON_KINDS_FOR.get(want.kind, ""):
        got = {"U": "strings", "S": "raw bytes", "O": "mixed or non-numeric values",
               "f": "floating-point numbers", "b": "booleans", "i": "integers", "u": "integers"}.get(kind, str(arr.dtype))
        raise InvalidArgument(f"{tf_type_error(value, want)}{where}: expected {want.name} values, got {got}")
    if want.kind in "iu" and arr.size:
        info = np.iinfo(want)
        if arr.min() < info.min or arr.max() > info.max:
            raise InvalidArgument(f"{where}: values out of range for {want.name}")
    if want.kind == "f" and want.itemsize >= 4 and arr.size and kind in "iuf":
        check_lossless(arr, want, where)
    return arr.astype(want, copy=False)


def bytes_array(value, where: str) -> np.ndarray:
    if isinstance(value, np.ndarray) and value.dtype == object:
        return value  # an adapter's tensor of bytes elements, already typed and shaped

    def leaf(v):
        if isinstance(v, list):
            return [leaf(x) for x in v]
        if isinstance(v, str):
            return v.encode("utf-8")
        return b64_bytes(v, where)

    try:
        return np.array(leaf(value), dtype=object)
    except ValueError as exc:
        raise InvalidArgument(f"{where}: values do not form a regular tensor ({exc})") from None


def named_values(config: ModelConfig, call: PredictCall) -> dict[str, Any]:
    """The call's values keyed by the model's input names; unknown or missing names are 400s."""
    inputs = config.inputs
    values = call.values
    if None in values:
        only = config.single_input
        if only is None:
            tf_words = ("instances is a plain list, but expecting list of objects" if call.row else
                        "inputs is a plain value/list, but expecting an object")
            raise InvalidArgument(
                f"{tf_words} as multiple input tensors required as per tensorinfo_map "
                f"(model {config.name!r} takes {len(inputs)} inputs ({', '.join(inputs)}); "
                "name each one (e.g. instances as objects, or \"inputs\" as an object))")
        return {only.name: values[None]}
    for name in values:
        if name not in inputs:
            raise InvalidArgument(f"JSON object: does not have named input: {name} "
                                  f"(unknown input {name!r}; model {config.name!r} takes: {', '.join(inputs)})")
    for name in inputs:
        if name not in values:
            if not call.row:
                raise InvalidArgument(f"Missing named input: {name} in 'inputs' object. "
                                      f"(missing input {name!r} for model {config.name!r})")
            raise InvalidArgument(f"missing input {name!r} for model {config.name!r}")
    return values


def _leading(value) -> int:
    if isinstance(value, np.ndarray):
        return int(value.shape[0]) if value.ndim else 0
    return len(value) if isinstance(value, (list, tuple)) else 0


def batch_size(config: ModelConfig, call: PredictCall, values: dict[str, Any]) -> int:
    """The normalised batch size: instances in row form; in columnar form the longest leading
    dimension among inputs that are batched (images, or a spec shape that starts with -1)."""
    if call.row:
        return call.batch_size if call.batch_size is not None else max(map(_leading, values.values()), default=0)
    sizes = [_leading(v) for name, v in values.items()
             if config.inputs[name].kind == "image"
             or (config.inputs[name].shape and config.inputs[name].shape[0] == -1)]
    return max(sizes, default=0)


class InputDecoder:
    """Builds one model's input tensors from a call; made once per model, reused per request."""

    def __init__(self, config: ModelConfig, limits: Limits):
        self.config = config
        self.limits = limits
        # The kernel's parameters, built and validated once per spec, not per request.
        self.image_params = {name: spec.image.preprocess_params(spec.dtype.name)
                             for name, spec in config.inputs.items() if spec.kind == "image"}

    def __call__(self, call: PredictCall) -> dict[str, Any]:
        """Every input tensor of the call, the whole batch at once."""
        return self.prepare(call).tensors()

    def prepare(self, call: PredictCall) -> "Rows":
        """The call's inputs checked (names, batch gate, numbers, shapes), images still encoded."""
        values = named_values(self.config, call)
        size = batch_size(self.config, call, values)
        check_batch(size, self.limits)
        inputs = {name: self.pending(self.config.inputs[name], values[name], call.row) for name in values}
        return Rows(self, inputs, size)

    def pending(self, spec: InputSpec, value, row: bool):
        """One input's value -> numpy array, TensorWriter (plug-ins) or EncodedImages."""
        where = f"input {spec.name!r}"
        if spec.plugin is not None:
            try:
                return spec.plugin(value, spec)
            except GatewayError:
                raise
            except Exception as exc:
                raise InvalidArgument(f"{where}: pre-processing plug-in failed: {exc}") from exc
        if spec.kind == "image":
            items = value if isinstance(value, list) else [value]
            if items and (is_b64(items[0]) or isinstance(items[0], (bytes, bytearray))):
                return EncodedImages(spec, items, row)
            # already-decoded pixels: the same checks as any numeric tensor
        if spec.kind == "bytes":
            arr = bytes_array(value, where)
        else:
            arr = numeric_array(value, spec, where)
        if not _shape_ok(spec.shape, arr.shape):
            form = "instances" if row else "inputs"
            raise InvalidArgument(f"{where}: expected shape {_fmt_shape(spec.shape)}, got "
                                  f"{_fmt_shape(arr.shape)} (from the {form} given)")
        return arr

    def images(self, pending: "EncodedImages", lo: int, hi: int, release: bool = False):
        """Images ``lo:hi`` of an input decoded into an image writer; errors name the instance.
        With ``release`` each item is dropped from the call once decoded (its base64 text is
        then freed), so a batch sent in parts does not hold every image's text to the end."""
        spec, items = pending.spec, pending.items
        decoded = []
        for i in range(lo, hi):
            where = _where(spec, i, pending.row)
            decoded.append(imaging.decode_image(b64_bytes(items[i], where), spec.image,
                                                max_pixels=self.limits.max_image_pixels, where=where))
            if release:
                items[i] = None
        return preprocess.image_writer(decoded, self.image_params[spec.name])


class EncodedImages:
    """An image input not decoded yet: its items (b64 objects or bytes, the call's own list),
    decoded by range."""

    __slots__ = ("spec", "items", "row")

    def __init__(self, spec: InputSpec, items: list, row: bool):
        self.spec, self.items, self.row = spec, items, row

    def __len__(self) -> int:
        return len(self.items)


class Rows:
    """A call's checked inputs, turned into tensors for all rows or for a range of them.

    Images are decoded only when their rows are asked for, so a batch sent to the backend in
    parts (core/pipeline) never holds more than one part's pixels.
    """

    __slots__ = ("decoder", "inputs", "size")

    def __init__(self, decoder: InputDecoder, inputs: dict[str, Any], size: int):
        self.decoder, self.inputs, self.size = decoder, inputs, size

    def tensors(self, lo: int = 0, hi: int | None = None) -> dict[str, Any]:
        """Arrays and image writers for rows ``lo:hi`` (all rows by default). Asked for a part,
        the part's encoded images are consumed: each range may be asked for once."""
        whole = lo == 0 and (hi is None or hi >= self.size)
        out = {}
        for name, value in self.inputs.items():
            if isinstance(value, EncodedImages):
                out[name] = (self.decoder.images(value, 0, len(value)) if whole
                             else self.decoder.images(value, lo, hi, release=True))
            else:
                out[name] = value if whole else value[lo:hi]
        return out

    def row_bytes(self) -> int | None:
        """Tensor bytes per row when every input is batched along its first dimension with
        one row per instance (so the rows can go to the backend in parts); else None."""
        n = self.size
        if n < 2:
            return None
        total = 0
        config = self.decoder.config
        for name, value in self.inputs.items():
            spec = config.inputs[name]
            if isinstance(value, EncodedImages):
                if len(value) != n:
                    return None
                params = self.decoder.image_params[name]
                total += math.prod(params.batch_shape(1)) * params.numpy_dtype.itemsize
            elif (isinstance(value, np.ndarray) and value.ndim and value.shape[0] == n
                  and (spec.kind == "image" or (spec.shape and spec.shape[0] == -1))):
                total += value.nbytes // n
            else:  # a plug-in's writer, or an input without a batch dimension
                return None
        return total


def _where(spec: InputSpec, index: int, row: bool) -> str:
    return f"instance {index}, input {spec.name!r}" if row else f"input {spec.name!r}[{index}]"
