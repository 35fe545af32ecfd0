"""The report's KServe-peer section: gateway ÷ peer for CPU per request and latency, per
scenario and variant, as the ratio of medians and the range of the interleaved pairs.

With --sidecar each like-for-like row (gateway and peer both on TCP) is followed by the sidecar
gateway's row against the same peer windows, labelled by its hop to the backend."""
from __future__ import annotations

from bench import sidecar
from bench.ratios import peer_ratios
from bench.targets import PEERS


def ratio_text(entry: dict) -> str:
    if not entry or entry.get("ratio") is None:
        return "–"
    spread = ""
    if entry.get("low") is not None and len(entry.get("per_rep") or []) > 1:
        spread = f" ({entry['low']:.2f}–{entry['high']:.2f})"
    return f"{entry['ratio']:.2f}×{spread}"


def _v(value, fmt="{:.2f}") -> str:
    return "–" if value is None else fmt.format(value)


def _row(name: str, label: str, hop: str, sc: dict, key: str, entry: dict) -> str:
    ratios = peer_ratios(sc, key) or {}
    cpu, p50, p99 = (ratios.get(k) or {} for k in ("cpu", "p50", "p99"))
    rss = max(entry.get("rss_mb_per_worker") or [0]) or None
    return (f"| {name} | {label} | {hop} | {_v(cpu.get('mine'), '{:.3f}')} "
            f"| {_v(cpu.get('theirs'), '{:.3f}')} | {ratio_text(cpu)} "
            f"| {_v(p50.get('mine'))} / {_v(p50.get('theirs'))} | {ratio_text(p50)} "
            f"| {_v(p99.get('mine'))} / {_v(p99.get('theirs'))} | {ratio_text(p99)} "
            f"| {_v(rss, '{:.0f}')} |")


def kserve_table(results: dict) -> list[str]:
    """One row per (scenario, peer variant, gateway hop) the run measured; empty when none was."""
    lines = []
    for name, sc in results.get("scenarios", {}).items():
        for key, label in PEERS.items():
            entry = (sc.get("baselines") or {}).get(key)
            if not entry:
                continue
            if entry.get("error"):
                lines.append(f"| {name} | {label} | – | failed: {entry['error'][:80]} |" + " |" * 7)
                continue
            lines.append(_row(name, label, sidecar.HOP["tcp"], sc, key, entry))
            if sidecar.measured(sc):
                lines.append(_row(name, label, sidecar.HOP[sidecar.KEY], sidecar.view(sc), key,
                                  entry))
    if not lines:
        return []
    conns = results.get("meta", {}).get("concurrency", "?")
    return [f"## KServe peer (gateway ÷ peer; closed loop at {conns} connections, medians over the "
           "interleaved repetitions, range of the per-repetition ratios in brackets)", "",
           "The peer always reaches the backend over TCP, as its users deploy it; the TCP rows are "
           "the like-for-like comparison.", "",
           "| scenario | peer | gateway → backend | gateway CPU ms/req | peer CPU ms/req | CPU ratio "
           "| p50 ms gateway / peer | p50 ratio | p99 ms gateway / peer | p99 ratio "
           "| peer RSS/worker MB |",
           "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|", *lines, ""]
