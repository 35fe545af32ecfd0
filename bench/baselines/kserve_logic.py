"""What the KServe peer does per request, apart from KServe itself (so it is testable anywhere).

The peer (bench/baselines/kserve_peer.py) is written the way KServe's users write an image
transformer: ``preprocess`` base64-decodes each instance, opens it with Pillow, converts and
resizes it, and scales it with numpy; ``predict`` sends the batch to TF Serving over gRPC;
``postprocess`` turns the scores into top-k rows. Nothing here imports kserve or TensorFlow:
numpy and Pillow only, plus whichever TensorProto class the caller hands in (the lean variant
builds the proto by hand from compiled TF Serving protos instead of ``tf.make_tensor_proto``).
"""
from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np
from PIL import Image

RESAMPLE = {"bilinear": Image.BILINEAR, "nearest": Image.NEAREST, "area": Image.BOX,
            "bicubic": Image.BICUBIC}

# TensorFlow's DataType enum values for the dtypes the peer sends and reads.
DT_BY_NUMPY = {np.dtype("float32"): 1, np.dtype("float64"): 2, np.dtype("int32"): 3,
               np.dtype("uint8"): 4, np.dtype("int64"): 9, np.dtype("float16"): 19}
NUMPY_BY_DT = {v: k for k, v in DT_BY_NUMPY.items()}


class BadRequest(ValueError):
    """The request does not hold what the model takes (answered 400 by KServe)."""


@dataclass(frozen=True)
class ModelConfig:
    """The few facts of our spec file that a hand-written transformer would hard-code."""

    model: str
    signature: str
    input_name: str
    output_name: str
    height: int
    width: int
    grayscale: bool
    resize: str
    scale: float
    mean: tuple[float, ...]
    std: tuple[float, ...]
    top_k: int
    deadline_s: float

    @classmethod
    def from_spec(cls, path: Path) -> "ModelConfig":
        doc = json.loads(Path(path).read_text())
        input_name, inp = next(iter(doc["inputs"].items()))
        img = inp["image"]
        output_name, out = next(iter(doc.get("outputs", {"scores": {}}).items()))
        return cls(model=doc["model"]["name"],
                   signature=doc["model"].get("signature_name") or "serving_default",
                   input_name=input_name, output_name=output_name,
                   height=int(img["height"]), width=int(img["width"]),
                   grayscale=img.get("color") == "grayscale",
                   resize=img.get("resize", "bilinear"), scale=float(img.get("scale", 1.0)),
                   mean=tuple(img.get("mean", [0.0])), std=tuple(img.get("std", [1.0])),
                   top_k=int(out.get("k", 5)),
                   deadline_s=doc.get("target", {}).get("deadline_ms", 10000) / 1000.0)


def image_bytes(instance: Any, input_name: str) -> bytes:
    """The JPEG/PNG bytes of one v1 instance: ``{"b64": ...}`` or ``{NAME: {"b64": ...}}``."""
    if isinstance(instance, dict) and input_name in instance:
        instance = instance[input_name]
    if not isinstance(instance, dict) or not isinstance(instance.get("b64"), str):
        raise BadRequest('each instance must be {"b64": "..."} or {"%s": {"b64": "..."}}'
                         % input_name)
    try:
        return base64.b64decode(instance["b64"], validate=True)
    except ValueError as exc:
        raise BadRequest(f"bad base64: {exc}") from exc


def image_to_array(data: bytes, cfg: ModelConfig) -> np.ndarray:
    """Pillow decode + convert + resize, then numpy scaling: HWC float32."""
    try:
        img = Image.open(io.BytesIO(data))
        img = img.convert("L" if cfg.grayscale else "RGB")
    except (OSError, Image.DecompressionBombError) as exc:
        raise BadRequest(f"not an image: {exc}") from exc
    img = img.resize((cfg.width, cfg.height), RESAMPLE.get(cfg.resize, Image.BILINEAR))
    arr = np.asarray(img, dtype=np.float32)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    arr = arr * cfg.scale
    return (arr - np.asarray(cfg.mean, np.float32)) / np.asarray(cfg.std, np.float32)


def batch_from_v1(payload: Any, cfg: ModelConfig) -> np.ndarray:
    """The NHWC float32 batch of a KServe v1 body ``{"instances": [...]}``."""
    if not isinstance(payload, dict) or not isinstance(payload.get("instances"), list) \
            or not payload["instances"]:
        raise BadRequest('expected {"instances": [...]} with at least one instance')
    return np.stack([image_to_array(image_bytes(i, cfg.input_name), cfg)
                     for i in payload["instances"]])


def tensor_proto(arr: np.ndarray, tensor_cls) -> Any:
    """A TensorProto of ``arr`` built by hand (dtype, shape, raw little-endian content)."""
    arr = np.ascontiguousarray(arr)
    dtype = DT_BY_NUMPY.get(arr.dtype)
    if dtype is None:
        raise BadRequest(f"unsupported dtype {arr.dtype}")
    proto = tensor_cls(dtype=dtype)
    for size in arr.shape:
        proto.tensor_shape.dim.add(size=size)
    proto.tensor_content = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
    return proto


def ndarray(proto) -> np.ndarray:
    """The numpy array of a TensorProto (tensor_content, or the typed repeated field)."""
    dtype = NUMPY_BY_DT.get(proto.dtype)
    if dtype is None:
        raise ValueError(f"unsupported TensorProto dtype {proto.dtype}")
    shape = [d.size for d in proto.tensor_shape.dim]
    if proto.tensor_content:
        return np.frombuffer(proto.tensor_content, dtype.newbyteorder("<")).reshape(shape)
    field = {np.dtype("float32"): "float_val", np.dtype("float64"): "double_val",
             np.dtype("int64"): "int64_val", np.dtype("float16"): "half_val"}.get(dtype,
                                                                                  "int_val")
    values = np.asarray(getattr(proto, field), dtype=dtype if field != "half_val" else np.uint16)
    if field == "half_val":
        values = values.view(np.float16)
    count = int(np.prod(shape)) if shape else 1
    if values.size == 1 and count > 1:  # TF's compact form: one value fills the tensor
        values = np.full(count, values[0], dtype)
    return values.reshape(shape)


def top_k(scores: np.ndarray, k: int, labels: Optional[list[str]] = None) -> list[list[dict]]:
    """Softmax over the last axis, then the ``k`` best classes per row, best first."""
    scores = np.asarray(scores, dtype=np.float64).reshape(len(scores), -1)
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    probs = e / e.sum(axis=-1, keepdims=True)
    rows = []
    for row in probs:
        best = np.argsort(-row, kind="stable")[:k]
        rows.append([{"class": int(i), "score": round(float(row[i]), 5),
                      **({"label": labels[i]} if labels and i < len(labels) else {})}
                     for i in best])
    return rows
