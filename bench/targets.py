"""The issue's targets, checked against one run's results.

The like-for-like lines (gateway and peer both on TCP) are the primary ones; with --sidecar the
same peer targets get a second, separately named line for the Unix-socket gateway.
"""
from __future__ import annotations

from bench import sidecar
from bench.ratios import peer_ratios

PEERS = {"kserve": "KServe peer (tf.make_tensor_proto)", "kserve_lean": "KServe peer (lean, no TF)"}


def targets(results: dict) -> list[dict]:
    out = []
    scs = results["scenarios"]

    def cpu(name):
        return ((scs.get(name) or {}).get("closed") or {}).get("cpu_ms_per_request")

    def base(name, key, field):
        entry = ((scs.get(name) or {}).get("baselines") or {}).get(key) or {}
        return entry.get(field)

    def add(name, value, limit, cmp="<=", **extra):
        ok = None if value is None else (value <= limit if cmp == "<=" else value < limit)
        out.append({"name": name, "value": value, "limit": f"{cmp} {limit}", "ok": ok, **extra})

    mine, old = cpu("jpeg_500x375"), base("jpeg_500x375", "old_design", "cpu_ms_per_request")
    add("JPEG 500x375: gateway CPU/req ÷ old design's", mine / old if mine and old else None, 0.25)
    for key, label in PEERS.items():
        ratios = peer_ratios(scs.get("jpeg_500x375") or {}, key)
        if ratios is None:
            continue
        add(f"JPEG 500x375: gateway CPU/req ÷ {label}'s", ratios["cpu"]["ratio"], 0.33)
        conns = results.get("meta", {}).get("concurrency", "?")
        add(f"JPEG 500x375: gateway p99 ÷ {label}'s, closed loop at {conns} connections",
            ratios["p99"]["ratio"], 0.5)
    for key, label in PEERS.items():  # after the TCP lines, named apart
        ratios = peer_ratios(sidecar.view(scs.get("jpeg_500x375") or {}), key)
        if ratios is None:
            continue
        conns = results.get("meta", {}).get("concurrency", "?")
        add(f"JPEG 500x375, {sidecar.LABEL}, peer on TCP: gateway CPU/req ÷ {label}'s",
            ratios["cpu"]["ratio"], 0.33, contender=sidecar.KEY)
        add(f"JPEG 500x375, {sidecar.LABEL}, peer on TCP: gateway p99 ÷ {label}'s, closed loop "
            f"at {conns} connections", ratios["p99"]["ratio"], 0.5, contender=sidecar.KEY)
    floor = base("jpeg_500x375", "decode_floor", "cpu_ms")
    add("JPEG 500x375: gateway CPU/req ÷ JPEG decode alone", mine / floor if mine and floor else None,
        2.5)
    mine_t, grpc_t = cpu("tensor_f32x8"), base("tensor_f32x8", "direct_grpc",
                                                "client_cpu_ms_per_call")
    add("f32[1,8]: gateway CPU/req ÷ direct gRPC client CPU/call",
        mine_t / grpc_t if mine_t and grpc_t else None, 1.5)
    rss = [v for sc in scs.values() for v in (sc.get("rss_mb_per_worker") or [])]
    add("RSS per gateway worker after the run, MB (max)", max(rss) if rss else None, 150, "<")
    batch = ((results.get("scaling") or {}).get("rows") or {}).get("batch") or {}
    peaks = [(pt["x"], pt["peak_rss_mb"]) for pt in batch.get("points", []) if pt.get("peak_rss_mb")]
    if peaks:
        add(f"Scaling: peak RSS per worker at batch sizes {peaks[0][0]}-{peaks[-1][0]}, MB (max)",
            max(v for _, v in peaks), 150, "<")
    idle = [v for sweep in batch.get("idle", []) for v in sweep]
    if idle:
        add("Scaling: RSS per worker idle after the batch row, MB (max)", max(idle), 100, "<")
    for name, sc in scs.items():
        half = sc.get("half_rate")
        if half and half["latency_ms"]["p50"]:
            add(f"{name}: p99 ÷ p50 at half max throughput",
                half["latency_ms"]["p99"] / half["latency_ms"]["p50"], 3)
    return out
