"""The `digits` model: a small MLP trained on scikit-learn's 8x8 digits, run in numpy.

Weights come from digits.npz (written by train_digits.py); input pixels are 0..16 with ink
high, exactly as in load_digits, so the gateway's spec scales 0..255 by 16/255.
"""
from pathlib import Path

import numpy as np

from sanic_app.protos import tensor_pb2

from ..signatures import DEFAULT_SIGNATURE, Servable, Signature, TensorSpec

WEIGHTS_PATH = Path(__file__).with_name("digits.npz")

SIGNATURE = Signature(
    inputs={"image": TensorSpec("serving_default_image:0", tensor_pb2.DT_FLOAT, (-1, 8, 8, 1))},
    outputs={
        "probabilities": TensorSpec("StatefulPartitionedCall:0", tensor_pb2.DT_FLOAT, (-1, 10)),
        "classes": TensorSpec("StatefulPartitionedCall:1", tensor_pb2.DT_INT64, (-1,)),
    },
)


class DigitsModel(Servable):
    """Forward pass: softmax(relu(x/16 @ w1 + b1) @ w2 + b2)."""

    def __init__(self, name="digits", version=1, weights_path=WEIGHTS_PATH):
        super().__init__(name, version, {DEFAULT_SIGNATURE: SIGNATURE})
        with np.load(weights_path) as weights:
            self.w1, self.b1 = weights["w1"], weights["b1"]
            self.w2, self.b2 = weights["w2"], weights["b2"]
            self.pixel_max = float(weights["pixel_max"])
            self.held_out_accuracy = float(weights["held_out_accuracy"])

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        flat = images.reshape(len(images), -1).astype(np.float32) / np.float32(self.pixel_max)
        hidden = np.maximum(flat @ self.w1 + self.b1, 0)
        logits = hidden @ self.w2 + self.b2
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)

    def run(self, signature_name, inputs, output_aliases):
        probabilities = self.probabilities(inputs["image"])
        results = {"probabilities": probabilities,
                   "classes": probabilities.argmax(axis=1).astype(np.int64)}
        return {alias: results[alias] for alias in output_aliases}
