"""The design the gateway replaces, rebuilt to measure against in the same run.

Flask under gunicorn with eventlet workers; per request: parse the JSON, base64-decode, Pillow
decode + convert + resize, numpy scaling, ``tf.make_tensor_proto``, a PredictRequest sent through
the synchronous stub from tensorflow-serving-api, ``tf.make_ndarray`` on the outputs, post-process
in numpy, ``jsonify``. TensorFlow is imported by every worker, as it was. Because the gRPC stub is
synchronous, an eventlet worker is blocked for the whole backend call; that is part of what we
measure, not a bug to fix here.

Run (see bench/run_load.py, which does this):
``OLD_DESIGN_SPEC=spec.json gunicorn -k eventlet -w 2 -b 127.0.0.1:P bench.baselines.old_design:app``
The spec is our model spec JSON (read with json.load); only the fields the old design knew about
are used: model name/signature, the input's name, dtype and image size/scale/mean/std, output
post-processing.
"""
import base64
import io
import json
import os
from pathlib import Path

import grpc
import numpy as np
import tensorflow as tf
from flask import Flask, jsonify, request
from PIL import Image
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

SPEC_PATH = Path(os.environ.get("OLD_DESIGN_SPEC", "specs/inceptionv3.json"))
SPEC = json.loads(SPEC_PATH.read_text())
TARGET = os.environ.get("OLD_DESIGN_TARGET") or SPEC.get("target", {}).get("addresses", [""])[0]
DEADLINE_S = SPEC.get("target", {}).get("deadline_ms", 10000) / 1000.0
MODEL = SPEC["model"]
INPUT_NAME, INPUT = next(iter(SPEC["inputs"].items()))
IMAGE = INPUT.get("image") or {}
RESAMPLE = {"bilinear": Image.BILINEAR, "nearest": Image.NEAREST, "area": Image.BOX,
            "pillow": Image.BICUBIC}
LABELS = {}
for _name, _out in SPEC.get("outputs", {}).items():
    if _out.get("labels"):
        LABELS[_name] = (SPEC_PATH.parent / _out["labels"]).read_text().splitlines()

app = Flask(__name__)
_stub = None


def stub():
    """One channel per worker, made after gunicorn forked it."""
    global _stub
    if _stub is None:
        _stub = prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel(TARGET))
    return _stub


def image_to_array(data: bytes) -> np.ndarray:
    img = Image.open(io.BytesIO(data))
    mode = "L" if IMAGE.get("color") == "grayscale" else "RGB"
    img = img.convert(mode).resize((IMAGE["width"], IMAGE["height"]),
                                   RESAMPLE.get(IMAGE.get("resize", "bilinear"), Image.BILINEAR))
    arr = np.asarray(img, dtype=np.float32)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if IMAGE.get("color") == "bgr":
        arr = arr[:, :, ::-1]
    arr = arr * float(IMAGE.get("scale", 1.0))
    arr = (arr - np.asarray(IMAGE.get("mean", [0.0]), np.float32)) / np.asarray(
        IMAGE.get("std", [1.0]), np.float32)
    if IMAGE.get("layout") == "NCHW":
        arr = arr.transpose(2, 0, 1)
    return arr


def instances_from_request():
    """The images (or numbers) in any of the request forms the old service took."""
    if request.files:
        return [f.read() for f in request.files.values()]
    if request.mimetype and request.mimetype.startswith("image/"):
        return [request.get_data()]
    body = json.loads(request.get_data())
    rows = body.get("instances")
    if rows is None:
        rows = body["inputs"]
        if isinstance(rows, dict):
            rows = rows[INPUT_NAME]
    out = []
    for row in rows:
        if isinstance(row, dict) and INPUT_NAME in row:
            row = row[INPUT_NAME]
        if isinstance(row, dict) and "b64" in row:
            row = base64.b64decode(row["b64"])
        out.append(row)
    return out


def postprocess(name: str, values: np.ndarray):
    how = SPEC.get("outputs", {}).get(name, {}).get("postprocess", "raw")
    if how in ("softmax", "topk"):
        e = np.exp(values - values.max(axis=-1, keepdims=True))
        values = e / e.sum(axis=-1, keepdims=True)
    if how == "topk":
        k = SPEC["outputs"][name].get("k", 5)
        labels = LABELS.get(name)
        rows = []
        for row in values:
            idx = np.argsort(row)[::-1][:k]
            rows.append([{"label": labels[i] if labels and i < len(labels) else int(i),
                          "score": float(row[i])} for i in idx])
        return rows
    return values.tolist()


@app.get("/healthz")
def healthz():
    return str(os.getpid())


@app.post("/v1/models/<path:name>")
def predict(name):
    items = instances_from_request()
    if INPUT.get("kind") == "image":
        batch = np.stack([image_to_array(item) for item in items])
    else:
        batch = np.asarray(items, dtype=INPUT.get("dtype", "float32"))
    req = predict_pb2.PredictRequest()
    req.model_spec.name = MODEL["name"]
    req.model_spec.signature_name = MODEL.get("signature_name") or "serving_default"
    req.inputs[INPUT_NAME].CopyFrom(tf.make_tensor_proto(batch, shape=batch.shape))
    resp = stub().Predict(req, DEADLINE_S)
    outputs = {k: tf.make_ndarray(v) for k, v in resp.outputs.items()}
    result = {k: postprocess(k, v) for k, v in outputs.items()}
    return jsonify({"predictions": [{k: result[k][i] for k in result}
                                    for i in range(len(batch))]})
