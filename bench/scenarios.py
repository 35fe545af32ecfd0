"""The request mixes a load run can drive, as pre-encoded HTTP requests.

Each scenario names the model it needs (the runner serves null models of those shapes), builds
its request bytes once, and says which baselines make sense for it. Images are synthetic but
photo-like (smooth shapes, gradients and sensor-like noise) so that JPEG sizes and decode times are
realistic; they are made with a fixed seed, so every run sends the same bytes.
"""
from __future__ import annotations

import base64
import io
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable

import numpy as np
import orjson
from PIL import Image, ImageDraw, ImageFilter

from bench.loadgen import build_request

# Null models the backend serves for the scenarios. The image model's tensor names come from
# specs/inceptionv3.json at run time; the small models are ours.
TINY_MODEL = "tiny"          # served through a spec with a "tensor" input
PASSTHRU_MODEL = "passthru"  # no spec: the gateway asks the backend's metadata
TINY_INPUT, TINY_OUTPUT, TINY_WIDTH, TINY_CLASSES = "x", "y", 8, 4


@dataclass(frozen=True)
class Context:
    """What the requests depend on: where they go and the served models' names."""

    host: str
    image_model: str
    image_input: str
    tiny_model: str = TINY_MODEL
    tiny_input: str = TINY_INPUT
    passthru_model: str = PASSTHRU_MODEL


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    model: str  # "image" | "tiny" | "passthru"
    build: Callable[[Context], list[bytes]] = field(repr=False)
    # which rows of the baseline table apply
    old_design: bool = False
    direct_grpc: bool = True
    decode_floor: tuple[int, int] | None = None  # the JPEG whose decode alone is the floor
    kserve: bool = False  # a KServe v1 body ({"instances": [{"b64": ...}]}) the peer takes


@lru_cache(maxsize=None)
def photo_jpeg(width: int, height: int, quality: int = 90, seed: int = 7) -> bytes:
    """A deterministic photo-like JPEG: gradients, blurred shapes, mild noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([
        120 + 80 * np.sin(xx / width * 3.1 + c) * np.cos(yy / height * 2.3 - c) for c in range(3)
    ], axis=-1)
    img = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    for _ in range(24):
        x0, y0 = rng.integers(0, width), rng.integers(0, height)
        w, h = rng.integers(width // 20, width // 3), rng.integers(height // 20, height // 3)
        draw.ellipse((x0, y0, x0 + w, y0 + h), fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    img = img.filter(ImageFilter.GaussianBlur(radius=max(1, width // 400)))
    arr = np.asarray(img, dtype=np.int16) + rng.normal(0, 5, (height, width, 3)).astype(np.int16)
    out = io.BytesIO()
    Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB").save(
        out, "JPEG", quality=quality)
    return out.getvalue()


def _predict_path(model: str) -> str:
    return f"/v1/models/{model}:predict"


def _json_post(ctx: Context, model: str, doc) -> bytes:
    return build_request("POST", _predict_path(model), ctx.host, orjson.dumps(doc),
                         [("Content-Type", "application/json")])


def _b64_images(ctx: Context, jpegs: list[bytes]) -> list[bytes]:
    rows = [{ctx.image_input: {"b64": base64.b64encode(j).decode()}} for j in jpegs]
    return [_json_post(ctx, ctx.image_model, {"instances": rows})]


def jpeg_small(ctx: Context) -> list[bytes]:
    return _b64_images(ctx, [photo_jpeg(500, 375)])


def jpeg_large(ctx: Context) -> list[bytes]:
    return _b64_images(ctx, [photo_jpeg(1920, 1080)])


def jpeg_batch8(ctx: Context) -> list[bytes]:
    return _b64_images(ctx, [photo_jpeg(500, 375, seed=s) for s in range(8)])


def multipart(ctx: Context) -> list[bytes]:
    boundary = uuid.UUID(int=7).hex
    jpeg = photo_jpeg(500, 375)
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{ctx.image_input}\"; "
            f"filename=\"photo.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n").encode() + jpeg + \
        f"\r\n--{boundary}--\r\n".encode()
    return [build_request("POST", _predict_path(ctx.image_model), ctx.host, body,
                          [("Content-Type", f"multipart/form-data; boundary={boundary}")])]


def tiny_rows(n: int = 16) -> list[list[float]]:
    rng = np.random.default_rng(3)
    return rng.standard_normal((n, TINY_WIDTH)).astype(np.float32).round(4).tolist()


def tensor_small(ctx: Context) -> list[bytes]:
    return [_json_post(ctx, ctx.tiny_model, {"instances": [row]}) for row in tiny_rows()]


def passthrough(ctx: Context) -> list[bytes]:
    return [_json_post(ctx, ctx.passthru_model, {"instances": [row]}) for row in tiny_rows()]


SCENARIOS: dict[str, Scenario] = {s.name: s for s in [
    Scenario("jpeg_500x375", "JPEG 500x375, base64 JSON", "image", jpeg_small,
             old_design=True, decode_floor=(500, 375), kserve=True),
    Scenario("jpeg_1920x1080", "JPEG 1920x1080, base64 JSON", "image", jpeg_large,
             old_design=True, decode_floor=(1920, 1080), kserve=True),
    Scenario("jpeg_batch8", "8 JPEGs 500x375 in one request", "image", jpeg_batch8,
             old_design=True, kserve=True),
    Scenario("multipart", "JPEG 500x375, multipart upload", "image", multipart, old_design=True),
    Scenario("tensor_f32x8", "f32[1,8] tensor, JSON", "tiny", tensor_small, old_design=False),
    Scenario("passthrough", "f32[1,8], pass-through (no spec)", "passthru", passthrough),
]}
DEFAULT_SCENARIOS = tuple(SCENARIOS)


def jpeg_for_floor(size: tuple[int, int]) -> bytes:
    return photo_jpeg(*size)
