"""The sidecar contender in a run's results: a second gateway that reaches the same null backend
over a Unix socket (TF Serving's --grpc_socket_path), as deploy/kubernetes' sidecar overlay
deploys it, measured in windows interleaved with the TCP gateway's on the image scenarios.

The peers stay on TCP, as their users deploy them, so the TCP gateway stays the like-for-like
figure; the sidecar's figures sit beside it, labelled, and never replace it. Its results live in
``scenario["sidecar"]`` with the gateway's own shape (closed, open, half_rate, rss_mb_per_worker),
so ``view`` lets the gateway's tables and ratios read it unchanged.
"""
from __future__ import annotations

from typing import Optional

from bench.ratios import paired

KEY = "sidecar"
LABEL = "gateway (sidecar: Unix socket)"
HOP = {"tcp": "TCP (like for like)", KEY: "Unix socket (sidecar)"}


def applies(scenario) -> bool:
    """The scenarios it runs on: those of the image model (the hop's cost is the 1 MB tensor)."""
    return scenario.model == "image"


def measured(scenario: dict) -> bool:
    return bool((scenario.get(KEY) or {}).get("closed"))


def view(scenario: dict) -> dict:
    """The scenario as if the sidecar were its gateway (same baselines, the sidecar's windows)."""
    side = scenario.get(KEY) or {}
    return {**scenario, **{k: side.get(k) for k in ("closed", "open", "half_rate",
                                                     "rss_mb_per_worker")}}


def against_tcp(scenario: dict) -> Optional[dict]:
    """Sidecar ÷ TCP gateway for CPU per request, p50 and p99, over the interleaved repetitions."""
    mine = ((scenario.get(KEY) or {}).get("closed") or {}).get("repetitions")
    tcp = (scenario.get("closed") or {}).get("repetitions")
    if not mine or not tcp:
        return None
    return {field: paired(mine, tcp, name) for field, name in
            (("cpu", "cpu_ms_per_request"), ("p50", "p50"), ("p99", "p99"))}
