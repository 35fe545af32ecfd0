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


def quantile(buckets: dict[float, float], q: float) -> float | None:
    """Estimate a quantile from cumulative histogram bucket counts {upper bound: count}.

    Linear inside the bucket that holds it, like PromQL's histogram_quantile; the answer is only
    as fine as the buckets (a factor of 2-2.5 apart here), enough to tell which stage has the tail.
    """
    bounds = sorted(buckets)
    if not bounds or not buckets[bounds[-1]]:
        return None
    rank = q * buckets[bounds[-1]]
    lower, below = 0.0, 0.0
    for upper in bounds:
        count = buckets[upper]
        if count >= rank:
            if upper == float("inf"):
                return lower
            inside = count - below
            return lower + (upper - lower) * ((rank - below) / inside if inside else 1.0)
        lower, below = upper, count
    return lower


def breakdown(before: dict, after: dict, model: str | None = None) -> dict:
    """Per stage: mean ms per request and per call, and p50/p99 estimated from the buckets;
    the whole request likewise; answered requests by status."""
    d = _delta(before, after)
    sums, counts = defaultdict(float), defaultdict(float)
    stage_buckets: dict[str, dict[float, float]] = defaultdict(lambda: defaultdict(float))
    request_buckets: dict[float, float] = defaultdict(float)
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
        elif name == "gateway_stage_seconds_bucket":
            stage_buckets[lab.get("stage", "?")][float(lab["le"])] += value
        elif name == "gateway_request_seconds_bucket":
            request_buckets[float(lab["le"])] += value
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
                "p50_ms": _ms(quantile(stage_buckets.get(stage, {}), 0.5)),
                "p99_ms": _ms(quantile(stage_buckets.get(stage, {}), 0.99)),
            }
    return {
        "requests": int(requests),
        "request_ms_mean": 1000.0 * req_sum / req_count if req_count else None,
        "request_p50_ms": _ms(quantile(request_buckets, 0.5)),
        "request_p99_ms": _ms(quantile(request_buckets, 0.99)),
        "stages": stages,
        "statuses": {k: int(v) for k, v in sorted(statuses.items())},
    }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000.0
