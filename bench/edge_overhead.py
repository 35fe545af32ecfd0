"""What the edge's bookkeeping (sanic_app/ops/edge.py) costs per request: the same gateway
served by the plain access-line protocol and by the edge protocol, loaded in turn.

    PYTHONPATH=$PWD python bench/edge_overhead.py [--rounds 5] [--duration 3]

Both gateways run side by side (1 worker each, the same null-model backend); rounds alternate
which is loaded first, and the script prints the median requests/s of each and the ratio
(edge / plain) per route, and the worker's CPU time per request (utime+stime from /proc, less
sensitive to a busy machine than requests/s). Closed loop, keep-alive connections, so the
edge's per-request work (phase timers, idle/head tables) is all there is to see; connection
set-up is not.
"""
from __future__ import annotations

import argparse
import os
import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

from bench.loadgen import build_request, run_load  # noqa: E402
from gateway_process import start_gateway  # noqa: E402

sys.path.insert(0, str(REPO / "tests" / "e2e"))
from ops_support import worker_pids  # noqa: E402


def cpu_seconds(pids) -> float:
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")

# Runs the gateway with the access-line protocol the edge protocol extends (the baseline).
PLAIN = ("import sanic_app.ops.modes as m, sanic_app.ops.logging as l; o = m.serve_options; "
         "m.serve_options = lambda s: {**o(s), 'protocol': l.AccessLineProtocol}; "
         "from sanic_app.main import main; main()")
BODY = json.dumps({"instances": [[1.0, 2.0, 3.0, 4.0]]}).encode()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--duration", type=float, default=3.0)
    p.add_argument("--concurrency", type=int, default=16)
    args = p.parse_args(argv)

    from sanic_app.localserve.process import LocalServe

    with LocalServe("--null_model", "m:x=float32[-1,4]:y=float32[-1,2]") as backend, \
            tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "m.json"
        spec.write_text(json.dumps({
            "model": {"name": "m"}, "target": {"addresses": [backend.target]},
            "inputs": {"x": {"kind": "tensor", "dtype": "float32", "shape": [-1, 4]}},
            "outputs": {"y": {"postprocess": "raw"}}}))
        flags = ("--spec", str(spec), "--no-passthrough")
        with start_gateway(*flags) as edge, _plain_gateway(*flags) as plain:
            routes = {
                "GET /healthz": build_request("GET", "/healthz", "gw"),
                "POST :predict": build_request("POST", "/v1/models/m:predict", "gw", BODY,
                                               [("Content-Type", "application/json")]),
            }
            for route, request in routes.items():
                rps = {"plain": [], "edge": []}
                cpu_us = {"plain": [], "edge": []}
                for r in range(args.rounds):
                    order = [("plain", plain), ("edge", edge)]
                    for name, gw in (order if r % 2 == 0 else order[::-1]):
                        pids = worker_pids(gw.process.pid)
                        window = []

                        async def mark():
                            window.append(cpu_seconds(pids))

                        result = run_load("127.0.0.1", gw.port, [request], concurrency=args.concurrency,
                                          warmup_s=0.5, duration_s=args.duration,
                                          on_window_start=mark, on_window_end=mark)
                        summary = result.summary()
                        assert summary["ok"] == summary["requests"], summary
                        rps[name].append(summary["rps"])
                        cpu_us[name].append((window[1] - window[0]) / max(1, summary["requests"]) * 1e6)
                plain_m, edge_m = statistics.median(rps["plain"]), statistics.median(rps["edge"])
                print(f"{route:14s} plain {plain_m:8.0f} req/s   edge {edge_m:8.0f} req/s   "
                      f"ratio {edge_m / plain_m:.3f}   (medians of {args.rounds}; all: "
                      f"plain {[round(x) for x in rps['plain']]}, edge {[round(x) for x in rps['edge']]})")
                cp, ce = statistics.median(cpu_us["plain"]), statistics.median(cpu_us["edge"])
                print(f"{'':14s} worker CPU per request: plain {cp:6.1f} us   edge {ce:6.1f} us   ratio {ce / cp:.3f}")
    return 0


@contextlib.contextmanager
def _plain_gateway(*flags):
    """start_gateway, with ``python -c PLAIN`` in place of ``python -m sanic_app``."""
    real_popen = subprocess.Popen

    def popen(cmd, *a, **kw):
        if cmd[1:3] == ["-m", "sanic_app"]:
            cmd = [cmd[0], "-c", PLAIN, *cmd[3:]]
        return real_popen(cmd, *a, **kw)

    subprocess.Popen = popen
    try:
        with start_gateway(*flags) as gw:
            subprocess.Popen = real_popen
            yield gw
    finally:
        subprocess.Popen = real_popen


if __name__ == "__main__":
    raise SystemExit(main())
