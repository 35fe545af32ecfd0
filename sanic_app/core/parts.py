"""A large batch goes to the backend in parts of whole rows, and the parts' outputs are joined.

Why: a request's input tensors are built in memory and gRPC copies them once more before they
leave, so one call for 64 images of 299x299 float32 holds ~140 MB per worker at once, and its
buffers fall past the allocator's mmap threshold (a fresh page fault for every 4 KiB of every
request). In parts of at most ``Limits.max_call_bytes`` of input tensors, sent one after
another, a worker holds one part's pixels and bytes at a time, whatever the batch size.

Splitting along the first dimension is what TF Serving's own batching does with large batches
(``enable_large_batch_splitting``), and it is only correct for a model whose rows do not see
each other, which every model TF Serving batches must be. So a batch is split only when every
input has one row per instance (``Rows.row_bytes``), and the answer is refused (400) when an
output of a part does not have one row per instance of that part: a model without a batch
dimension in its outputs takes such batches whole, or with a larger ``--max-call-bytes``.
"""
from __future__ import annotations

import numpy as np

from sanic_app.core.decode import Rows
from sanic_app.errors import GatewayError


def parts(rows: Rows, max_call_bytes: int) -> list[tuple[int, int]]:
    """Row ranges ``[lo, hi)`` for one backend call each: one range unless the batch is larger
    than ``max_call_bytes`` and can be split; else as few parts as the budget allows, their
    sizes within one row of each other (so each overlaps the next evenly), at least one row."""
    size = rows.size
    if size < 2:
        return [(0, size)]
    row_bytes = rows.row_bytes()
    if row_bytes is None or row_bytes * size <= max_call_bytes:
        return [(0, size)]
    most = max(1, max_call_bytes // max(row_bytes, 1))  # rows one call may carry
    count = -(-size // most)
    small, larger = divmod(size, count)  # the first ``larger`` parts get one row more
    spans, lo = [], 0
    for i in range(count):
        hi = lo + small + (i < larger)
        spans.append((lo, hi))
        lo = hi
    return spans


class UnbatchedOutput(GatewayError):
    """A part's output has no row per instance, so the parts cannot be joined (400)."""

    code = "FAILED_PRECONDITION"


def join_rows(pieces: list[dict[str, np.ndarray]], spans: list[tuple[int, int]]) -> dict[str, np.ndarray]:
    """The parts' outputs concatenated along the first dimension, in request order."""
    total = spans[-1][1] - spans[0][0]
    joined = {}
    for name in pieces[0]:
        arrays = []
        for piece, (lo, hi) in zip(pieces, spans):
            arr = piece.get(name)
            if arr is None or arr.ndim == 0 or arr.shape[0] != hi - lo:
                got = "missing" if arr is None else f"shape {list(arr.shape)}"
                raise UnbatchedOutput(
                    f"output {name!r} of a part of {hi - lo} rows came back with {got}, not one "
                    f"row per instance, so this batch of {total} cannot be sent in parts; send at "
                    f"most {hi - lo} instances per request, or raise --max-call-bytes "
                    f"(GATEWAY_MAX_CALL_BYTES) for this model")
            arrays.append(arr)
        joined[name] = np.concatenate(arrays)
    return joined
