"""Gateway CPU per image request: TF Serving over loopback TCP against a Unix domain socket.

Run:  python -m bench.micro.bench_uds_vs_tcp [--rounds 5] [--duration 3] [--concurrency 1,8]

Why: the sidecar overlay (deploy/kubernetes/overlays/sidecar) has the gateway reach TF Serving
over a socket in a shared emptyDir instead of TCP. This says what that saves per request. One
embedded backend (a null InceptionV3: float32[-1,299,299,3] -> [-1,1001]) listens on a TCP port
and, through --grpc_socket_path, on a socket; two gateways (--workers 1) serve the same spec but
one targets 127.0.0.1:PORT and the other unix:PATH. Closed-loop windows of raw 500x375 JPEG
bodies (a 1.07 MB float tensor per request) alternate between the two, so outside load hits both
alike. CPU is user + system time of each gateway's process tree (and of the backend, which
serves one gateway at a time) from /proc over the window, divided by the answers in it.

Prints one line per window, then medians per concurrency and the ratio socket / TCP.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

from bench import loadgen, procstat
from bench.scenarios import photo_jpeg
from bench.services import Service, bench_env, free_port, http_ok, null_backend, python_module

MODEL = "inception"
NULL = f"{MODEL}:images=float32[-1,299,299,3]:scores=float32[-1,1001]"


def write_spec(folder: Path, name: str, target: str) -> Path:
    spec = folder / f"{name}.json"
    spec.write_text(json.dumps({
        "model": {"name": MODEL, "signature_name": "serving_default"},
        "target": {"addresses": [target], "deadline_ms": 10000},
        "inputs": {"images": {"kind": "image", "dtype": "float32", "shape": [-1, 299, 299, 3],
                              "image": {"height": 299, "width": 299, "color": "rgb", "resize": "bilinear",
                                        "scale": 0.00784313725490196, "mean": [1.0], "std": [1.0]}}},
        "outputs": {"scores": {"postprocess": "topk", "k": 5}},
    }))
    return spec


def window(gateway: Service, backend: Service, requests: list[bytes], concurrency: int,
           warmup: float, duration: float) -> dict:
    samples = {}

    async def start():
        samples["before"] = procstat.sample_tree(gateway.pid), procstat.sample_tree(backend.pid)

    async def end():
        samples["after"] = procstat.sample_tree(gateway.pid), procstat.sample_tree(backend.pid)

    result = loadgen.run_load(gateway.host, gateway.port, requests, concurrency=concurrency,
                              warmup_s=warmup, duration_s=duration, on_window_start=start,
                              on_window_end=end)
    used = procstat.delta(samples["before"][0], samples["after"][0])
    backend_used = procstat.delta(samples["before"][1], samples["after"][1])
    bad = {k: v for k, v in result.statuses.items() if k != 200}
    if bad:
        raise SystemExit(f"{gateway.name}: non-200 answers {bad}; see {gateway.log_path}")
    n = result.completed
    return {"requests": n, "rps": n / result.window_s, "cpu_ms": used["cpu_s"] * 1000.0 / n,
            "sys_ms": used["sys_s"] * 1000.0 / n, "backend_ms": backend_used["cpu_s"] * 1000.0 / n}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--duration", type=float, default=3.0)
    p.add_argument("--warmup", type=float, default=0.5)
    p.add_argument("--concurrency", default="1,8", help="comma-separated closed-loop connections")
    args = p.parse_args(argv)
    levels = [int(c) for c in args.concurrency.split(",")]

    # a short folder: AF_UNIX paths stop at 107 bytes
    with tempfile.TemporaryDirectory(prefix="uds-", dir="/tmp") as tmp:
        tmp = Path(tmp)
        logs = tmp / "logs"
        logs.mkdir()
        socket_path = tmp / "tfserving.sock"
        backend = null_backend([NULL], logs, "--grpc_socket_path", str(socket_path))
        gateways = []
        try:
            for name, target in (("tcp", backend.address), ("socket", f"unix:{socket_path}")):
                port = free_port()
                argv = python_module("sanic_app", "--workers", "1", "--port", str(port), "--host", "127.0.0.1",
                                     "-s", str(write_spec(tmp, name, target)), "--no-passthrough")
                gateways.append(Service(name, argv, port, env=bench_env(), log_dir=logs).start(ready=http_ok("/readyz")))
            jpeg = photo_jpeg(500, 375)
            requests = [loadgen.build_request("POST", f"/v1/models/{MODEL}:predict", gateways[0].address, jpeg,
                                              [("Content-Type", "image/jpeg")])]
            figures: dict = {(g.name, c): [] for g in gateways for c in levels}
            backend_ms: dict = {(g.name, c): [] for g in gateways for c in levels}
            for r in range(args.rounds):
                order = gateways if r % 2 == 0 else gateways[::-1]
                for c in levels:
                    for g in order:
                        w = window(g, backend, requests, c, args.warmup, args.duration)
                        figures[(g.name, c)].append(w["cpu_ms"])
                        backend_ms[(g.name, c)].append(w["backend_ms"])
                        print(f"round {r} c={c:<3} {g.name:<7} {w['rps']:6.0f} req/s  gateway CPU "
                              f"{w['cpu_ms']:.3f} ms/req (sys {w['sys_ms']:.3f})  backend {w['backend_ms']:.3f}",
                              flush=True)
        finally:
            for g in gateways:
                g.stop()
            backend.stop()

    print(f"\nmedian CPU ms per 500x375 JPEG request over {args.rounds} rounds:")
    summary = {}
    for c in levels:
        row = {g.name: statistics.median(figures[(g.name, c)]) for g in gateways}
        row["ratio"] = row["socket"] / row["tcp"]
        back = {g.name: statistics.median(backend_ms[(g.name, c)]) for g in gateways}
        row["backend_tcp"], row["backend_socket"] = back["tcp"], back["socket"]
        summary[f"c{c}"] = row
        print(f"  c={c:<3} gateway: tcp {row['tcp']:.3f}  socket {row['socket']:.3f}  socket/tcp "
              f"{row['ratio']:.3f}   backend: tcp {back['tcp']:.3f}  socket {back['socket']:.3f}")
    print(json.dumps(summary))


if __name__ == "__main__":
    sys.exit(main())
