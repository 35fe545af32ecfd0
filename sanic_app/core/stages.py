"""The stages of one request, in order, and the seconds spent in each.

The stage names are a contract: ``gateway_stage_seconds{stage}`` (ops/metrics), the access
log's timings and the bench's per-stage breakdown all read them from here.

    decode       base64, JSON values -> arrays, image bytes -> pixels (core/decode, core/imaging)
    preprocess   resize + normalise + layout into the request bytes (core/preprocess)
    pack         fastpack.encode_predict_request, less the preprocess time inside it
    backend      the gRPC call (core/upstream)
    unpack       fastpack.decode_predict_response
    postprocess  softmax / top-k / plug-ins (core/postprocess)
    serialize    the protocol adapter renders the answer (http/)
"""
from __future__ import annotations

STAGES = ("decode", "preprocess", "pack", "backend", "unpack", "postprocess", "serialize")


class StageTimings:
    """Seconds spent per stage for one request (zero for stages it did not reach)."""

    __slots__ = STAGES + ("batch_size", "backend_calls")

    def __init__(self):
        for name in STAGES:
            setattr(self, name, 0.0)
        self.batch_size = 0
        self.backend_calls = 0  # more than one when a large batch went in parts (core/parts)

    def as_dict(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in STAGES}

    def items(self):
        """(stage, seconds) pairs, so readers can treat it as a mapping."""
        return self.as_dict().items()

    @property
    def total(self) -> float:
        return sum(getattr(self, name) for name in STAGES)
