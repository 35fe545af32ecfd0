"""Ratios between two contenders measured in the same run, windows interleaved.

On a shared machine a burst of outside load hits one window and not the next, so a ratio is
quoted two ways: of the medians over all repetitions, and per repetition (gateway window i ÷
the baseline's window i, taken back to back), whose spread shows how much the noise moved it.
"""
from __future__ import annotations

import statistics
from typing import Optional, Sequence


def median(values: Sequence[Optional[float]]) -> Optional[float]:
    kept = [v for v in values if v is not None]
    return statistics.median(kept) if kept else None


def paired(mine: Sequence[dict], theirs: Sequence[dict], field: str) -> dict:
    """``field`` of two lists of repetitions: ratio of medians and each pair's ratio."""
    a, b = median([r.get(field) for r in mine]), median([r.get(field) for r in theirs])
    pairs = [m.get(field) / t.get(field) for m, t in zip(mine, theirs)
             if m.get(field) is not None and t.get(field)]
    return {"mine": a, "theirs": b, "ratio": a / b if a is not None and b else None,
            "per_rep": pairs, "low": min(pairs) if pairs else None,
            "high": max(pairs) if pairs else None}


def peer_ratios(scenario: dict, key: str, cpu_field: str = "cpu_ms_per_request") -> Optional[dict]:
    """CPU-per-request and closed-loop p99 ratios, gateway ÷ baseline ``key``, of one scenario."""
    mine = (scenario.get("closed") or {}).get("repetitions")
    theirs = ((scenario.get("baselines") or {}).get(key) or {}).get("repetitions")
    if not mine or not theirs:
        return None
    return {"cpu": paired(mine, theirs, cpu_field), "p99": paired(mine, theirs, "p99"),
            "p50": paired(mine, theirs, "p50")}
