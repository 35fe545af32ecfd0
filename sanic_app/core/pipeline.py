"""The transport-free core: request values -> tensors -> TF Serving -> JSON bytes.

    decode       b64 / image decoding, JSON values -> numpy, checks against the spec
    preprocess   resize + normalise + layout, written straight into the request bytes
    pack         fastpack.encode_predict_request (its time minus preprocess's)
    backend      the gRPC call
    unpack       fastpack.decode_predict_response
    postprocess  softmax / top-k / plug-ins
    serialize    orjson

Every stage is timed into a ``StageTimings`` the HTTP layer hangs on ``request.ctx.timings``
(for logs and metrics). Handlers build a ``PredictCall`` and call ``ModelPipeline.predict``.
"""
from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pybase64

import fastpack
from sanic_app.core import imaging, postprocess
from sanic_app.errors import GatewayError, InvalidArgument, PayloadTooLarge
from sanic_app.ops.metrics import STAGES
from sanic_app.core.spec import InputSpec, ModelConfig
from sanic_app.core.upstream import Upstream

_now = time.perf_counter


class StageTimings:
    """Seconds spent per stage for one request (zero for stages it did not reach)."""

    __slots__ = STAGES + ("batch_size",)

    def __init__(self):
        for name in STAGES:
            setattr(self, name, 0.0)
        self.batch_size = 0

    def as_dict(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in STAGES}

    def items(self):
        """(stage, seconds) pairs, so readers can treat it as a mapping."""
        return self.as_dict().items()

    @property
    def total(self) -> float:
        return sum(getattr(self, name) for name in STAGES)


@dataclass
class PredictCall:
    """One predict request, independent of how it arrived.

    ``values`` maps input names (None: "the model's only input") to, in row form, a list with
    one value per instance, and in columnar form the whole input's value. Image values are
    ``{"b64": str}`` objects or raw ``bytes``.
    """

    model: str
    values: dict[str | None, Any]
    row: bool = True
    version: int | None = None
    label: str | None = None
    signature_name: str | None = None
    batch_size: int | None = None  # row form: number of instances


class _TimedWriter:
    """Wraps a TensorWriter to time its write_into (the image kernel's work) as 'preprocess'."""

    __slots__ = ("writer", "dtype", "shape", "seconds")

    def __init__(self, writer):
        self.writer, self.dtype, self.shape, self.seconds = writer, writer.dtype, tuple(writer.shape), 0.0

    def write_into(self, buf) -> None:
        start = _now()
        self.writer.write_into(buf)
        self.seconds += _now() - start


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


def numeric_array(value, spec: InputSpec, where: str) -> np.ndarray:
    """JSON numbers -> array of the spec's dtype; no silent float->int or string->number casts."""
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise InvalidArgument(f"{where}: values do not form a regular tensor ({exc})") from None
    want = spec.dtype
    kind = arr.dtype.kind
    allowed = {"f": "fiu", "i": "iu", "u": "iu", "b": "b"}.get(want.kind, "")
    if kind not in allowed:
        got = {"U": "strings", "S": "raw bytes", "O": "mixed or non-numeric values",
               "f": "floating-point numbers", "b": "booleans", "i": "integers", "u": "integers"}.get(kind, str(arr.dtype))
        raise InvalidArgument(f"{where}: expected {want.name} values, got {got}")
    if want.kind in "iu" and arr.size:
        info = np.iinfo(want)
        if arr.min() < info.min or arr.max() > info.max:
            raise InvalidArgument(f"{where}: values out of range for {want.name}")
    return arr.astype(want, copy=False)


def bytes_array(value, where: str) -> np.ndarray:
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


class ModelPipeline:
    """The stages for one model (from a spec file, or from backend metadata for pass-through)."""

    def __init__(self, config: ModelConfig, upstream: Upstream, *, deadline_s: float,
                 max_batch: int, max_image_pixels: int, executor=None):
        self.config = config
        self.upstream = upstream
        self.deadline_s = deadline_s  # the spec's target deadline or the default (registry.deadline_for)
        self.max_batch = max_batch
        self.max_image_pixels = max_image_pixels
        self.executor = executor
        self.output_filter = tuple(config.outputs)

    # ---- decode + preprocess -------------------------------------------------------------
    def _named_values(self, call: PredictCall) -> dict[str, Any]:
        inputs = self.config.inputs
        if None in call.values:
            only = self.config.single_input
            if only is None:
                raise InvalidArgument(
                    f"model {self.config.name!r} takes {len(inputs)} inputs ({', '.join(inputs)}); "
                    "name each one (e.g. instances as objects, or \"inputs\" as an object)")
            return {only.name: call.values[None]}
        for name in call.values:
            if name not in inputs:
                raise InvalidArgument(f"unknown input {name!r}; model {self.config.name!r} takes: "
                                      f"{', '.join(inputs)}")
        for name in inputs:
            if name not in call.values:
                raise InvalidArgument(f"missing input {name!r} for model {self.config.name!r}")
        return call.values

    def _tensor(self, spec: InputSpec, value, row: bool):
        """One input's value -> numpy array or TensorWriter; image decoding happens here."""
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
                if len(items) > self.max_batch:
                    raise PayloadTooLarge(f"{where}: {len(items)} images, more than the limit of {self.max_batch}")
                images = [imaging.decode_image(
                    b64_bytes(item, self._where(spec, i, row)), spec.image,
                    max_pixels=self.max_image_pixels, where=self._where(spec, i, row))
                    for i, item in enumerate(items)]
                return imaging.image_batch(images, spec.image, spec.dtype.name)
            # already-decoded pixels: the same checks as any numeric tensor
        if spec.kind == "bytes":
            arr = bytes_array(value, where)
        else:
            arr = numeric_array(value, spec, where)
        if not _shape_ok(spec.shape, arr.shape):
            form = "instances" if row else "inputs"
            raise InvalidArgument(f"{where}: expected shape {_fmt_shape(spec.shape)}, got "
                                  f"{_fmt_shape(arr.shape)} (from the {form} given)")
        if arr.ndim and arr.shape[0] > self.max_batch and spec.shape and spec.shape[0] == -1:
            raise PayloadTooLarge(f"{where}: batch of {arr.shape[0]}, more than the limit of {self.max_batch}")
        return arr

    @staticmethod
    def _where(spec: InputSpec, index: int, row: bool) -> str:
        return f"instance {index}, input {spec.name!r}" if row else f"input {spec.name!r}[{index}]"

    def build_inputs(self, call: PredictCall) -> dict[str, Any]:
        if call.row and call.batch_size is not None and call.batch_size > self.max_batch:
            raise PayloadTooLarge(f"{call.batch_size} instances, more than the limit of {self.max_batch}")
        values = self._named_values(call)
        return {name: self._tensor(self.config.inputs[name], values[name], call.row) for name in values}

    # ---- the whole path ------------------------------------------------------------------
    async def predict(self, call: PredictCall, timings: StageTimings) -> bytes:
        start = _now()
        if self.executor is not None and any(s.kind == "image" for s in self.config.inputs.values()):
            tensors = await asyncio.get_running_loop().run_in_executor(self.executor, self.build_inputs, call)
        else:
            tensors = self.build_inputs(call)
        t = _now()
        timings.decode += t - start

        writers = {name: (_TimedWriter(v) if hasattr(v, "write_into") else v) for name, v in tensors.items()}
        first = next(iter(writers.values()))
        shape = first.shape
        timings.batch_size = int(shape[0]) if len(shape) else 1
        cfg = self.config
        request = fastpack.encode_predict_request(
            cfg.name, writers,
            signature_name=call.signature_name if call.signature_name is not None else cfg.signature_name,
            version=call.version if (call.version is not None or call.label is not None) else cfg.version,
            version_label=call.label if (call.version is not None or call.label is not None) else cfg.version_label,
            output_filter=self.output_filter,
        )
        t2 = _now()
        kernel = sum(w.seconds for w in writers.values() if isinstance(w, _TimedWriter))
        timings.preprocess += kernel
        timings.pack += (t2 - t) - kernel

        response = await self.upstream.predict(request, self.deadline_s)
        t3 = _now()
        timings.backend += t3 - t2

        outputs, _ = fastpack.decode_predict_response(response)
        t4 = _now()
        timings.unpack += t4 - t3

        shaped = {name: self._postprocess(name, arr) for name, arr in outputs.items()}
        nonfinite = any(_has_nonfinite(v) for v in shaped.values())  # before rows multiply objects
        body = self._answer(shaped, call)
        t5 = _now()
        timings.postprocess += t5 - t4

        data = serialize(body, nonfinite)
        timings.serialize += _now() - t5
        return data

    def _postprocess(self, name: str, arr: np.ndarray):
        spec = self.config.outputs.get(name)
        if arr.dtype == object:
            return strings_for_json(name, arr)
        return arr if spec is None else postprocess.apply(spec, arr)

    def _answer(self, outputs: dict[str, Any], call: PredictCall) -> dict:
        """TF Serving's answer shapes: row -> "predictions", columnar -> "outputs"; a lone
        output is given bare, several as objects keyed by output name."""
        if not call.row:
            if len(outputs) == 1:
                return {"outputs": next(iter(outputs.values()))}
            return {"outputs": outputs}
        if len(outputs) == 1:
            return {"predictions": next(iter(outputs.values()))}
        sizes = {name: len(v) if not isinstance(v, np.ndarray) else (v.shape[0] if v.ndim else -1)
                 for name, v in outputs.items()}
        batch = set(sizes.values())
        if len(batch) != 1 or -1 in batch:
            raise InvalidArgument(
                "outputs have differing batch sizes " + ", ".join(f"{n}: {s}" for n, s in sizes.items())
                + "; use the columnar \"inputs\" form for this model")
        (n,) = batch
        names = list(outputs)
        return {"predictions": [{name: outputs[name][i] for name in names} for i in range(n)]}


def strings_for_json(name: str, arr: np.ndarray):
    """DT_STRING outputs: text as JSON strings; names ending in _bytes (TF Serving's rule) or
    bytes that are not UTF-8 as {"b64": ...}."""
    force_b64 = name.endswith("_bytes")

    def one(v):
        if isinstance(v, str):
            return v
        if not force_b64:
            try:
                return v.decode("utf-8")
            except UnicodeDecodeError:
                pass
        return {"b64": pybase64.b64encode(v).decode("ascii")}

    def walk(x):
        return [walk(i) for i in x] if isinstance(x, list) else one(x)

    return walk(arr.tolist())


def _default(obj):
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"cannot serialise {type(obj).__name__}")


def _has_nonfinite(obj) -> bool:
    if isinstance(obj, np.ndarray):
        return obj.dtype.kind in "fc" and not np.isfinite(obj).all()
    if isinstance(obj, np.floating):
        return not np.isfinite(obj)
    if isinstance(obj, float):
        return obj != obj or obj in (float("inf"), float("-inf"))
    if isinstance(obj, dict):
        return any(_has_nonfinite(v) for v in obj.values())
    if isinstance(obj, list):
        return any(_has_nonfinite(v) for v in obj)
    return False


def serialize(body: dict, nonfinite: bool | None = None) -> bytes:
    """orjson (numpy arrays natively); NaN/Infinity are written as TF Serving writes them
    (bare NaN, Infinity, -Infinity literals), which needs the slow encoder only then."""
    if nonfinite if nonfinite is not None else _has_nonfinite(body):
        return json.dumps(body, default=_default, allow_nan=True, separators=(",", ":")).encode()
    return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY, default=_default)
