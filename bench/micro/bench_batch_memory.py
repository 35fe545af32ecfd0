"""Memory and CPU per worker against batch size: batches sent in parts (the default
``--max-call-bytes``) against the whole batch in one backend call.

Run:  python -m bench.micro.bench_batch_memory [--batches 1,2,4,8,16,32,64,128,256]
          [--rounds 2] [--images 128] [--requests 2] [--idle-s 5] [--backend-delay-ms 0]

Why: issue 17's target is RSS per worker under 150 MB at every batch size up to the batch
limit (256), and back under 100 MB when idle. One backend call for 64 images of 299x299
float32 holds the decoded pixels, the ~69 MB request and gRPC's copy of it at once, past the
allocator's mmap threshold. Two gateways (``--workers 1``, the 299x299 image spec of
bench_request_overhead) serve one null backend: "parts" with the default ``--max-call-bytes``
and "whole" with a budget larger than any batch (and a gRPC message limit raised to match).
For each batch size, alternating the two, sequential requests of that many 500x375 JPEGs (16
different ones, cycled; ``--images`` images in all, at least ``--requests`` requests) give the
worker's peak RSS (VmHWM, reset first), CPU ms per image and minor page faults per request
(from /proc) and the median wall time per request. ``--backend-delay-ms`` stands in for a model's
compute: every backend call, so every part, waits that long. After each sweep the workers idle
``--idle-s`` seconds and their RSS is read again. Prints a table and one JSON object.
"""
from __future__ import annotations

import argparse
import base64
import http.client
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench import procstat, scenarios
from bench.micro.bench_request_overhead import IMAGE_INPUT, MODEL, OUTPUT, INPUT, write_spec
from bench.services import Service, bench_env, free_port, http_ok, null_backend, python_module

MIB = 2 ** 20
WHOLE_FLAGS = ("--max-call-bytes", str(1 << 30), "--max-message-bytes", str(1 << 30))


def body(jpegs: list[bytes], n: int) -> bytes:
    images = [{"b64": base64.b64encode(jpegs[i % len(jpegs)]).decode()} for i in range(n)]
    return json.dumps({"instances": images}).encode()


def start(name: str, spec: Path, logs: Path, extra: tuple[str, ...]) -> Service:
    port = free_port()
    argv = python_module("sanic_app", "--workers", "1", "--port", str(port), "--host", "127.0.0.1",
                         "-s", str(spec), *extra)
    return Service(name, argv, port, env=bench_env(), log_dir=logs).start(ready=http_ok("/healthz"))


def post(svc: Service, payload: bytes) -> float:
    """One request; its wall time in ms."""
    start = time.perf_counter()
    conn = http.client.HTTPConnection(svc.host, svc.port, timeout=120)
    try:
        conn.request("POST", f"/v1/models/{MODEL}:predict", payload, {"Content-Type": "application/json"})
        answer = conn.getresponse()
        text = answer.read()
        if answer.status != 200:
            raise SystemExit(f"{svc.name}: {answer.status} {text[:300]!r}; see {svc.log_path}")
    finally:
        conn.close()
    return (time.perf_counter() - start) * 1000.0


def point(svc: Service, payload: bytes, n: int, requests: int) -> dict:
    (pid,) = svc.workers()
    post(svc, payload)  # warm: the first request of a size maps its buffers
    procstat.reset_peak_rss(pid)
    before = procstat.sample(pid)
    wall = [post(svc, payload) for _ in range(requests)]
    after = procstat.sample(pid)
    return {"peak_mb": procstat.peak_rss_bytes(pid) / MIB, "rss_mb": after.rss_bytes / MIB,
            "cpu_ms_per_image": (after.cpu_s - before.cpu_s) * 1000.0 / (requests * n),
            "faults_per_request": (after.minflt - before.minflt) / requests,
            "latency_ms": statistics.median(wall)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batches", default="1,2,4,8,16,32,64,128,256")
    p.add_argument("--requests", type=int, default=2, help="fewest sequential requests per point")
    p.add_argument("--images", type=int, default=128, help="images per point at least (more requests "
                   "for small batches: /proc's CPU times count 10 ms ticks)")
    p.add_argument("--rounds", type=int, default=2, help="sweeps; medians over them")
    p.add_argument("--idle-s", type=float, default=5.0)
    p.add_argument("--backend-delay-ms", type=float, default=0.0,
                   help="the null backend answers each call this much later (a model's compute)")
    args = p.parse_args(argv)
    batches = [int(b) for b in args.batches.split(",")]
    jpegs = [scenarios.photo_jpeg(500, 375, seed=s) for s in range(16)]
    results: dict[str, dict[int, list[dict]]] = {"parts": {}, "whole": {}}
    idle: dict[str, list[float]] = {"parts": [], "whole": []}
    with tempfile.TemporaryDirectory(prefix="bench-batch-memory-") as tmp:
        logs = Path(tmp)
        backend = null_backend([f"{MODEL}:{INPUT}=float32[-1,299,299,3]:{OUTPUT}=float32[-1,1000]"], logs,
                               "--delay_ms", str(args.backend_delay_ms))
        gateways = {}
        try:
            spec = write_spec(logs, backend.address, IMAGE_INPUT)
            gateways = {"parts": start("parts", spec, logs, ()), "whole": start("whole", spec, logs, WHOLE_FLAGS)}
            for rnd in range(args.rounds):
                for n in batches:
                    payload = body(jpegs, n)
                    order = ("parts", "whole") if (rnd + n) % 2 else ("whole", "parts")
                    for name in order:
                        r = point(gateways[name], payload, n, max(args.requests, args.images // n))
                        results[name].setdefault(n, []).append(r)
                        print(f"round {rnd + 1} batch {n:3d} {name:5s}: peak {r['peak_mb']:6.1f} MB, "
                              f"rss {r['rss_mb']:6.1f} MB, {r['cpu_ms_per_image']:.2f} ms/image, "
                              f"{r['faults_per_request']:.0f} faults/req, {r['latency_ms']:.1f} ms/req",
                              flush=True)
                time.sleep(args.idle_s)
                for name, svc in gateways.items():
                    idle[name].append(procstat.sample(svc.workers()[0]).rss_bytes / MIB)
        finally:
            for svc in gateways.values():
                svc.stop()
            backend.stop()
    summary = {name: {n: {k: statistics.median(r[k] for r in reps) for k in reps[0]}
                      for n, reps in by_n.items()} for name, by_n in results.items()}
    print(f"\nmedians over {args.rounds} round(s); parts = default --max-call-bytes, whole = one call")
    print("batch | peak MB parts / whole | CPU ms per image parts / whole (ratio) | faults/req parts / whole"
          " | latency ms parts / whole (ratio)")
    for n in batches:
        a, b = summary["parts"][n], summary["whole"][n]
        print(f"{n:5d} | {a['peak_mb']:6.1f} / {b['peak_mb']:6.1f} | {a['cpu_ms_per_image']:.2f} / "
              f"{b['cpu_ms_per_image']:.2f} ({a['cpu_ms_per_image'] / b['cpu_ms_per_image']:.2f}x) | "
              f"{a['faults_per_request']:.0f} / {b['faults_per_request']:.0f} | {a['latency_ms']:.1f} / "
              f"{b['latency_ms']:.1f} ({a['latency_ms'] / b['latency_ms']:.2f}x)")
    print(f"idle RSS after {args.idle_s:.0f} s, MB: parts {max(idle['parts']):.1f}, whole {max(idle['whole']):.1f}")
    print(json.dumps({"summary": summary, "idle_rss_mb": idle}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
