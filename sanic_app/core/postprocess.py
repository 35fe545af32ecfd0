"""Output post-processing named by the spec: raw, softmax, top-k with labels, or a plug-in.

Each function takes the output array (batch first) and returns either an array (still batch
first, serialised by orjson's numpy support) or a list with one item per batch row.
"""
from __future__ import annotations

import numpy as np

from sanic_app.errors import GatewayError
from sanic_app.core.spec import OutputSpec


def softmax(scores: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, in float32 or wider; stable for large scores."""
    x = scores.astype(np.result_type(scores.dtype, np.float32), copy=True)
    x -= x.max(axis=-1, keepdims=True)
    np.exp(x, out=x)
    x /= x.sum(axis=-1, keepdims=True)
    return x


def topk(scores: np.ndarray, k: int, labels: tuple[str, ...] | None = None) -> list:
    """Per row, the k best classes as {"class", "score"[, "label"]}, best first."""
    if scores.ndim < 1:
        raise GatewayError("top-k needs an output with a class axis, got a scalar", code="INTERNAL")
    rows = scores.reshape(1, -1) if scores.ndim == 1 else scores.reshape(scores.shape[0], -1)
    k = min(k, rows.shape[1])
    part = np.argpartition(-rows, k - 1, axis=1)[:, :k]
    picked = np.take_along_axis(rows, part, axis=1)
    order = np.argsort(-picked, axis=1, kind="stable")
    best = np.take_along_axis(part, order, axis=1)
    best_scores = np.take_along_axis(picked, order, axis=1)
    result = []
    # scores stay numpy scalars so orjson writes them at their own precision (float32: 0.9985)
    for classes, values in zip(best.tolist(), best_scores):
        row = []
        for c, v in zip(classes, values):
            item = {"class": c, "score": v}
            if labels is not None and c < len(labels):
                item["label"] = labels[c]
            row.append(item)
        result.append(row)
    return result if scores.ndim > 1 else result[0]


def apply(output: OutputSpec, array: np.ndarray):
    if output.postprocess == "raw":
        return array
    if output.postprocess == "softmax":
        return softmax(array)
    if output.postprocess == "topk":
        return topk(array, output.k, output.labels)
    try:
        return output.plugin(array, output)
    except GatewayError:
        raise
    except Exception as exc:
        raise GatewayError(f"post-processing plug-in for output {output.name!r} failed: "
                           f"{type(exc).__name__}: {exc}", code="INTERNAL") from exc
