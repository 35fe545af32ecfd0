"""The gateway's own timings, read from its Prometheus /metrics before and after a window.

The per-stage breakdown in the report is the delta of ``gateway_stage_seconds`` sums and counts
over the measured window, divided by the requests the gateway counted: the gateway's view of where
a request's time went, next to the CPU time we measure from /proc.
"""
from __future__ import annotations

from collections import defaultdict

STAGES = ("decode", "preprocess", "pack", "backend", "unpack", "postprocess", "serialize")


def parse(text: str) -> dict:
    """Metric samples we use, keyed by (name, frozenset(labels))."""
    from prometheus_client.parser import text_string_to_metric_families

    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name.startswith("gateway_"):
                out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def _delta(before: dict, after: dict) -> dict:
    return {key: value - before.get(key, 0.0) for key, value in after.items()}


def breakdown(before: dict, after: dict, model: str | None = None) -> dict:
    """Per-stage mean seconds per observation and per request, plus request counts by status."""
    d = _delta(before, after)
    sums, counts = defaultdict(float), defaultdict(float)
    statuses: dict[str, float] = defaultdict(float)
    req_sum = req_count = 0.0
    for (name, labels), value in d.items():
        lab = dict(labels)
        if model is not None and lab.get("model") not in (model, None):
            continue
        if name == "gateway_stage_seconds_sum":
            sums[lab.get("stage", "?")] += value
        elif name == "gateway_stage_seconds_count":
            counts[lab.get("stage", "?")] += value
        elif name == "gateway_request_seconds_sum":
            req_sum += value
        elif name == "gateway_request_seconds_count":
            req_count += value
        elif name in ("gateway_requests_total", "gateway_requests"):
            statuses[lab.get("status", "?")] += value
    requests = req_count or sum(statuses.values())
    stages = {}
    for stage in list(STAGES) + sorted(set(sums) - set(STAGES)):
        if counts.get(stage):
            stages[stage] = {
                "ms_per_request": 1000.0 * sums[stage] / requests if requests else None,
                "ms_per_call": 1000.0 * sums[stage] / counts[stage],
                "calls": int(counts[stage]),
            }
    return {
        "requests": int(requests),
        "request_ms_mean": 1000.0 * req_sum / req_count if req_count else None,
        "stages": stages,
        "statuses": {k: int(v) for k, v in sorted(statuses.items())},
    }
