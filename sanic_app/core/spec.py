"""Model spec files: load, validate, explain.

A spec (one JSON file per model) says where the model is served, what its inputs are and how
to turn request values into tensors, and what to do with its outputs. Validation is by hand so
that every error names the file, the field path and why (``specs/schema.json`` publishes the same
rules for editors and tests). Nothing is ever evaluated: plug-ins are ``module:function`` import
paths resolved with importlib, and labels files are read relative to the spec file.
"""
from __future__ import annotations

import importlib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import orjson

from sanic_app.core.tls import TlsSpec
from sanic_app.errors import SpecError

IMAGE_DTYPES = ("float32", "float16", "uint8")
TENSOR_DTYPES = (
    "float16", "float32", "float64", "int8", "int16", "int32", "int64",
    "uint8", "uint16", "uint32", "uint64", "bool",
)
RESIZE_METHODS = ("bilinear", "nearest", "area", "pillow")
DECODERS = ("tensorflow", "accurate")  # JPEG IDCT: TF's default (fast integer) or the accurate one
COLORS = ("rgb", "bgr", "grayscale")
LAYOUTS = ("NHWC", "NCHW")
BUILTIN_POSTPROCESS = ("raw", "softmax", "topk")
PLUGIN_RE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
NAME_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")
MAX_SPEC_BYTES = 1024 * 1024
MAX_LABELS = 1_000_000
DEFAULT_TOPK = 5


@dataclass(frozen=True)
class ImageSpec:
    """How an encoded image becomes one item of the input tensor."""

    height: int
    width: int
    color: str = "rgb"
    resize: str = "bilinear"
    antialias: bool = False
    layout: str = "NHWC"
    scale: float = 1.0
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)
    # How encoded bytes become pixels (sanic_app.core.decoding): TF's decode_image by default.
    decode: str = "tensorflow"
    reduced_dct: bool = False       # large JPEGs at 1/N scale, = decode_jpeg(ratio=N)
    exif_orientation: bool = False  # TF's decoders ignore EXIF

    @property
    def channels(self) -> int:
        return 1 if self.color == "grayscale" else 3

    def item_shape(self) -> tuple[int, int, int]:
        if self.layout == "NHWC":
            return (self.height, self.width, self.channels)
        return (self.channels, self.height, self.width)

    def preprocess_params(self, dtype: str):
        """fastpack's PreprocessParams for this image section."""
        from fastpack import PreprocessParams

        return PreprocessParams(
            height=self.height, width=self.width, method=self.resize, antialias=self.antialias,
            color=self.color, scale=self.scale, mean=self.mean, std=self.std,
            layout=self.layout, dtype=dtype,
        )


@dataclass(frozen=True)
class InputSpec:
    name: str
    kind: str                       # "image" | "tensor" | "bytes"
    dtype: np.dtype                 # object for bytes
    shape: tuple[int, ...] | None   # -1 = any; None = unchecked
    image: ImageSpec | None = None
    plugin: Callable | None = None  # "preprocess": "module:function"


@dataclass(frozen=True)
class OutputSpec:
    name: str
    postprocess: str = "raw"        # "raw" | "softmax" | "topk" | "plugin"
    k: int = DEFAULT_TOPK
    labels: tuple[str, ...] | None = None
    plugin: Callable | None = None


@dataclass(frozen=True)
class TargetSpec:
    addresses: tuple[str, ...]
    deadline_ms: int | None = None
    tls: TlsSpec | None = None  # sanic_app/core/tls.py


@dataclass(frozen=True)
class ModelConfig:
    """One validated spec file (or a pass-through model built from backend metadata)."""

    name: str
    signature_name: str = "serving_default"
    version: int | None = None
    version_label: str | None = None
    target: TargetSpec | None = None
    inputs: dict[str, InputSpec] = field(default_factory=dict)
    outputs: dict[str, OutputSpec] = field(default_factory=dict)
    source: str = ""

    @property
    def single_input(self) -> InputSpec | None:
        return next(iter(self.inputs.values())) if len(self.inputs) == 1 else None


class _Reader:
    """Typed access to a JSON tree that raises SpecError with the field path."""

    def __init__(self, file: str):
        self.file = file

    def fail(self, path: str, why: str):
        raise SpecError(self.file, path, why)

    def obj(self, node, path, allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> dict:
        if not isinstance(node, dict):
            self.fail(path, f"must be an object, got {_kind(node)}")
        for key in node:
            if key not in allowed:
                self.fail(_join(path, key), f"unknown field (allowed: {', '.join(allowed)})")
        for key in required:
            if key not in node:
                self.fail(_join(path, key), "is required")
        return node

    def string(self, node, path, *, choices=None, pattern=None, nullable=False):
        if node is None and nullable:
            return None
        if not isinstance(node, str) or not node:
            self.fail(path, f"must be a non-empty string, got {_kind(node)}")
        if choices is not None and node not in choices:
            self.fail(path, f"must be one of {', '.join(choices)}, got {node!r}")
        if pattern is not None and not pattern.match(node):
            self.fail(path, f"has an invalid form: {node!r}")
        return node

    def integer(self, node, path, *, minimum=None, maximum=None, nullable=False):
        if node is None and nullable:
            return None
        if isinstance(node, bool) or not isinstance(node, int):
            self.fail(path, f"must be an integer, got {_kind(node)}")
        if minimum is not None and node < minimum:
            self.fail(path, f"must be >= {minimum}, got {node}")
        if maximum is not None and node > maximum:
            self.fail(path, f"must be <= {maximum}, got {node}")
        return node

    def number(self, node, path, *, positive=False):
        if isinstance(node, bool) or not isinstance(node, (int, float)) or not math.isfinite(node):
            self.fail(path, f"must be a finite number, got {_kind(node)}")
        if positive and node <= 0:
            self.fail(path, f"must be > 0, got {node}")
        return float(node)

    def boolean(self, node, path):
        if not isinstance(node, bool):
            self.fail(path, f"must be true or false, got {_kind(node)}")
        return node


def _kind(node) -> str:
    if node is None:
        return "null"
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "an array", dict: "an object"}.get(type(node), type(node).__name__)


def _join(path: str, key) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def resolve_plugin(ref: str, where: str = "") -> Callable:
    """Import ``module:function`` (dotted attribute after the colon); never evaluates text."""
    if not PLUGIN_RE.match(ref):
        raise ValueError(f"plug-in {ref!r} is not of the form module:function")
    module_name, _, attr_path = ref.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"cannot import module {module_name!r} for plug-in {ref!r}: {exc}") from None
    for part in attr_path.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"module {module_name!r} has no attribute {attr_path!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ValueError(f"plug-in {ref!r} is not callable")
    return obj


def _plugin(r: _Reader, node, path) -> Callable:
    ref = r.string(node, path)
    try:
        return resolve_plugin(ref)
    except ValueError as exc:
        r.fail(path, str(exc))


def _shape(r: _Reader, node, path) -> tuple[int, ...]:
    if not isinstance(node, list) or len(node) > 32:
        r.fail(path, f"must be an array of at most 32 dimension sizes, got {_kind(node)}")
    return tuple(r.integer(d, _join(path, i), minimum=-1) for i, d in enumerate(node))


def _image(r: _Reader, node, path) -> ImageSpec:
    keys = ("height", "width", "color", "resize", "antialias", "layout", "scale", "mean", "std",
            "decode", "reduced_dct", "exif_orientation")
    node = r.obj(node, path, keys, required=("height", "width"))
    color = r.string(node.get("color", "rgb"), _join(path, "color"), choices=COLORS)
    channels = 1 if color == "grayscale" else 3
    stats = {}
    for key in ("mean", "std"):
        default = [0.0] if key == "mean" else [1.0]
        values = node.get(key, default)
        if not isinstance(values, list) or len(values) not in (1, channels):
            r.fail(_join(path, key), f"must be an array of 1 or {channels} numbers (one per channel)")
        stats[key] = tuple(
            r.number(v, _join(_join(path, key), i), positive=(key == "std")) for i, v in enumerate(values)
        )
    return ImageSpec(
        height=r.integer(node["height"], _join(path, "height"), minimum=1, maximum=16384),
        width=r.integer(node["width"], _join(path, "width"), minimum=1, maximum=16384),
        color=color,
        resize=r.string(node.get("resize", "bilinear"), _join(path, "resize"), choices=RESIZE_METHODS),
        antialias=r.boolean(node.get("antialias", False), _join(path, "antialias")),
        layout=r.string(node.get("layout", "NHWC"), _join(path, "layout"), choices=LAYOUTS),
        scale=r.number(node.get("scale", 1.0), _join(path, "scale")),
        mean=stats["mean"],
        std=stats["std"],
        decode=r.string(node.get("decode", "tensorflow"), _join(path, "decode"), choices=DECODERS),
        reduced_dct=r.boolean(node.get("reduced_dct", False), _join(path, "reduced_dct")),
        exif_orientation=r.boolean(node.get("exif_orientation", False), _join(path, "exif_orientation")),
    )


def _input(r: _Reader, name: str, node, path) -> InputSpec:
    node = r.obj(node, path, ("kind", "dtype", "shape", "image", "preprocess"), required=("kind",))
    kind = r.string(node["kind"], _join(path, "kind"), choices=("image", "tensor", "bytes"))
    shape = _shape(r, node["shape"], _join(path, "shape")) if "shape" in node else None
    plugin = _plugin(r, node["preprocess"], _join(path, "preprocess")) if "preprocess" in node else None
    if kind == "image":
        if "image" not in node:
            r.fail(_join(path, "image"), "is required when kind is image")
        image = _image(r, node["image"], _join(path, "image"))
        dtype = r.string(node.get("dtype", "float32"), _join(path, "dtype"), choices=IMAGE_DTYPES)
        expected = (-1, *image.item_shape())
        if shape is None:
            shape = expected
        elif len(shape) != 4 or any(s != e and e != -1 for s, e in zip(shape[1:], expected[1:])):
            r.fail(_join(path, "shape"), f"must be {list(expected)} for this image section "
                   f"({image.layout}, {image.color}), got {list(shape)}")
        return InputSpec(name, kind, np.dtype(dtype), shape, image, plugin)
    if "image" in node:
        r.fail(_join(path, "image"), f"only allowed when kind is image (kind is {kind})")
    if kind == "bytes":
        if "dtype" in node and node["dtype"] != "string":
            r.fail(_join(path, "dtype"), f"must be \"string\" for kind bytes, got {node['dtype']!r}")
        return InputSpec(name, kind, np.dtype(object), shape, None, plugin)
    if "dtype" not in node:
        r.fail(_join(path, "dtype"), "is required when kind is tensor")
    dtype = r.string(node["dtype"], _join(path, "dtype"), choices=TENSOR_DTYPES)
    return InputSpec(name, kind, np.dtype(dtype), shape, None, plugin)


def _labels(r: _Reader, node, path, base: Path) -> tuple[str, ...]:
    rel = r.string(node, path)
    file = (base / rel).resolve()
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        r.fail(path, f"cannot read labels file {file}: {exc}")
    labels = tuple(line.strip() for line in text.splitlines())
    while labels and not labels[-1]:
        labels = labels[:-1]
    if not labels or len(labels) > MAX_LABELS:
        r.fail(path, f"labels file {file} must hold 1..{MAX_LABELS} lines, one label per class")
    return labels


def _output(r: _Reader, name: str, node, path, base: Path) -> OutputSpec:
    node = r.obj(node, path, ("postprocess", "k", "labels"))
    how = r.string(node.get("postprocess", "raw"), _join(path, "postprocess"))
    if how not in BUILTIN_POSTPROCESS:
        if ":" not in how:
            r.fail(_join(path, "postprocess"),
                   f"must be raw, softmax, topk or a module:function plug-in, got {how!r}")
        return OutputSpec(name, "plugin", plugin=_plugin(r, how, _join(path, "postprocess")))
    for key in ("k", "labels"):
        if key in node and how != "topk":
            r.fail(_join(path, key), f"only allowed with postprocess topk (postprocess is {how})")
    k = r.integer(node.get("k", DEFAULT_TOPK), _join(path, "k"), minimum=1, maximum=100000)
    labels = _labels(r, node["labels"], _join(path, "labels"), base) if "labels" in node else None
    return OutputSpec(name, how, k=k, labels=labels)


def _address(r: _Reader, node, path: str) -> str:
    from sanic_app.core import backend_target

    try:
        return backend_target.check(r.string(node, path))
    except ValueError as exc:
        r.fail(path, str(exc))


def _tls(r: _Reader, node, base: Path) -> TlsSpec | None:
    if node is None:
        return None
    node = r.obj(node, "target.tls", ("ca", "cert", "key", "server_name"))
    paths = {k: r.string(node.get(k), f"target.tls.{k}", nullable=True) for k in ("ca", "cert", "key")}
    paths = {k: None if v is None else str(base / v) for k, v in paths.items()}
    tls = TlsSpec(**paths, server_name=r.string(node.get("server_name"), "target.tls.server_name", nullable=True))
    for field_name, why in tls.problems():
        r.fail(f"target.tls.{field_name}", why)
    return tls


def parse_spec(doc: Any, file: str = "<spec>", base: Path | None = None) -> ModelConfig:
    """Validate a decoded spec document; labels paths are relative to ``base``."""
    r = _Reader(file)
    base = base if base is not None else Path(".")
    doc = r.obj(doc, "", ("$schema", "description", "model", "target", "inputs", "outputs"),
                required=("model", "inputs"))
    model = r.obj(doc["model"], "model", ("name", "signature_name", "version", "version_label"),
                  required=("name",))
    name = r.string(model["name"], "model.name", pattern=NAME_RE)
    signature = model.get("signature_name", "serving_default")
    if signature != "":
        signature = r.string(signature, "model.signature_name")
    version = r.integer(model.get("version"), "model.version", minimum=0, nullable=True)
    label = r.string(model.get("version_label"), "model.version_label", nullable=True)
    if version is not None and label is not None:
        r.fail("model.version_label", "give model.version or model.version_label, not both")

    target = None
    if "target" in doc:
        node = r.obj(doc["target"], "target", ("addresses", "deadline_ms", "tls"), required=("addresses",))
        addresses = node["addresses"]
        if not isinstance(addresses, list) or not addresses:
            r.fail("target.addresses", "must be a non-empty array of \"host:port\" strings")
        addrs = tuple(_address(r, a, f"target.addresses[{i}]") for i, a in enumerate(addresses))
        deadline = r.integer(node.get("deadline_ms"), "target.deadline_ms", minimum=1, nullable=True)
        target = TargetSpec(addrs, deadline, _tls(r, node.get("tls"), base))

    inputs_node = doc["inputs"]
    if not isinstance(inputs_node, dict) or not inputs_node:
        r.fail("inputs", "must be an object with at least one input")
    inputs = {n: _input(r, n, v, f"inputs.{n}") for n, v in inputs_node.items()}
    outputs_node = doc.get("outputs", {})
    if not isinstance(outputs_node, dict):
        r.fail("outputs", f"must be an object, got {_kind(outputs_node)}")
    outputs = {n: _output(r, n, v, f"outputs.{n}", base) for n, v in outputs_node.items()}
    return ModelConfig(name, signature, version, label, target, inputs, outputs, file)


def load_spec(path: str | Path) -> ModelConfig:
    """Read and validate one spec file; every problem is a SpecError naming the file."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SpecError(str(path), "", f"cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_SPEC_BYTES:
        raise SpecError(str(path), "", f"larger than {MAX_SPEC_BYTES} bytes")
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise SpecError(str(path), "", f"not valid JSON: {exc}") from None
    return parse_spec(doc, str(path), path.parent)


def load_specs(paths) -> dict[str, ModelConfig]:
    """Specs keyed by model name; two files for one model name is an error."""
    specs: dict[str, ModelConfig] = {}
    for p in paths:
        spec = load_spec(p)
        if spec.name in specs:
            raise SpecError(str(p), "model.name", f"model {spec.name!r} is already defined by {specs[spec.name].source}")
        specs[spec.name] = spec
    return specs


def default_spec_paths() -> tuple[str, ...]:
    """The embedded demo's specs, shipped inside the package."""
    return (str(Path(__file__).parent.parent / "specs" / "digits.json"),)
