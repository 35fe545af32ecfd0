"""CPU per 1 MB unary Predict call under different gRPC channel/server options.

Run:  python -m bench.micro.bench_grpc_hop [--rounds 7] [--calls 400] [--only NAME,...]

Why: in the load benchmark the grpc.aio call carrying an f32[1,299,299,3] tensor (1.07 MB)
costs ~0.54 ms of gateway CPU, second only to JPEG decode. This asks whether HTTP/2 settings
(frame size, windows, BDP probing, write buffer, optimization target) make that cheaper.

One embedded null backend (LocalServe, sync server) per distinct set of server options (passed
through $LOCALSERVE_GRPC_OPTIONS); in this process one grpc.aio channel per variant, built on
the gateway's own channel_options(), sending fastpack-encoded requests as raw bytes (no
(de)serializers, like sanic_app/upstream.py). Each window makes N calls at concurrency 1 or 8
and measures this process's CPU (time.process_time: every thread, gRPC's included) and the
backend's CPU (/proc, 10 ms ticks) per call. Windows alternate between variants in a rotating
order, so outside load hits all alike; the table shows medians and the ratio to "default".

Finding (grpcio 1.85, 2 noisy cores, 15 rounds x 400 calls): no option moves client CPU per
call beyond the noise (default 0.47 ms at c=1, 0.52 ms at c=8; max_frame_size 16M, throughput
target and all combined within +-3%); bdp_probe 0 costs 5-17% more. So the gateway keeps
gRPC's defaults for these.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time

import grpc
import numpy as np

import fastpack
from bench import procstat
from sanic_app.localserve.process import LocalServe
from sanic_app.localserve.server import EXTRA_OPTIONS_ENV
from sanic_app.protos import PREDICT
from sanic_app.core.upstream import channel_options

MODEL, INPUT, OUTPUT = "m", "images", "scores"
NULL_MODEL = f"{MODEL}:{INPUT}=float32[-1,299,299,3]:{OUTPUT}=float32[-1,1001]"
MAX_FRAME = 2**24 - 1  # HTTP/2's largest SETTINGS_MAX_FRAME_SIZE
BIG_WINDOW = 8 << 20

# name -> (server options, client options); "default" is the gateway's channel as it ships.
VARIANTS: dict[str, tuple[dict, dict]] = {
    "default": ({}, {}),
    "srv max_frame_size 16M": ({"grpc.http2.max_frame_size": MAX_FRAME}, {}),
    "cli+srv max_frame_size 16M": ({"grpc.http2.max_frame_size": MAX_FRAME},
                                   {"grpc.http2.max_frame_size": MAX_FRAME}),
    "cli write_buffer_size 8M": ({}, {"grpc.http2.write_buffer_size": BIG_WINDOW}),
    "cli+srv bdp_probe 0": ({"grpc.http2.bdp_probe": 0}, {"grpc.http2.bdp_probe": 0}),
    "srv lookahead_bytes 8M": ({"grpc.http2.lookahead_bytes": BIG_WINDOW}, {}),
    "cli optimization_target throughput": ({}, {"grpc.optimization_target": "throughput"}),
    "all of the above": ({"grpc.http2.max_frame_size": MAX_FRAME,
                          "grpc.http2.lookahead_bytes": BIG_WINDOW},
                         {"grpc.http2.max_frame_size": MAX_FRAME,
                          "grpc.http2.write_buffer_size": BIG_WINDOW,
                          "grpc.optimization_target": "throughput"}),
}
CONCURRENCIES = (1, 8)


def client_options(extra: dict) -> list:
    base = [(k, v) for k, v in channel_options(2**31 - 1) if k not in extra]
    return base + list(extra.items())


def request_bytes() -> bytes:
    pixels = np.random.default_rng(0).standard_normal((1, 299, 299, 3), dtype=np.float32)
    return fastpack.encode_predict_request(MODEL, {INPUT: pixels},
                                           signature_name="serving_default")


async def window(call, request: bytes, calls: int, concurrency: int, backend_pid: int) -> dict:
    """CPU (client, backend) and wall time per call over `calls` calls."""
    remaining = calls

    async def worker():
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await call(request, timeout=30)

    server_before = procstat.sample(backend_pid).cpu_s
    cpu_before, wall_before = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    cpu, wall = time.process_time() - cpu_before, time.perf_counter() - wall_before
    server = procstat.sample(backend_pid).cpu_s - server_before
    return {"client_ms": cpu / calls * 1e3, "server_ms": server / calls * 1e3,
            "wall_ms": wall / calls * 1e3}


async def run(names: list[str], backends: dict, rounds: int, calls: int) -> dict:
    request = request_bytes()
    channels, methods = {}, {}
    for name in names:
        server_opts, client_opts = VARIANTS[name]
        backend = backends[json.dumps(server_opts, sort_keys=True)]
        channels[name] = grpc.aio.insecure_channel(backend.target,
                                                   options=client_options(client_opts))
        methods[name] = (channels[name].unary_unary(PREDICT, request_serializer=None,
                                                    response_deserializer=None), backend.pid)
    for name, (call, _) in methods.items():  # connect, warm up, check the answer
        for _ in range(20):
            answer = await call(request, timeout=30)
        outputs, _spec = fastpack.decode_predict_response(answer)
        assert outputs[OUTPUT].shape == (1, 1001), (name, outputs[OUTPUT].shape)

    results = {(name, c): [] for name in names for c in CONCURRENCIES}
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for concurrency in CONCURRENCIES:
            for name in order:
                call, pid = methods[name]
                figures = await window(call, request, calls, concurrency, pid)
                results[(name, concurrency)].append(figures)
                print(f"round {r} c={concurrency} {name:36s} client {figures['client_ms']:.3f} "
                      f"server {figures['server_ms']:.3f} wall {figures['wall_ms']:.3f} ms/call",
                      flush=True)
    for channel in channels.values():
        await channel.close()
    return results


def median(samples: list[dict], key: str) -> float:
    return statistics.median(s[key] for s in samples)


def report(names: list[str], results: dict, request_size: int) -> dict:
    print(f"\nmedians, ms per call, request {request_size} bytes "
          "(ratio = variant / default, client CPU)")
    summary = {}
    for concurrency in CONCURRENCIES:
        print(f"\nconcurrency {concurrency}")
        print(f"  {'variant':36s} {'client CPU':>10s} {'ratio':>6s} {'server CPU':>10s} "
              f"{'ratio':>6s} {'wall':>7s}")
        base = results.get(("default", concurrency))
        for name in names:
            samples = results[(name, concurrency)]
            row = {key: median(samples, key) for key in ("client_ms", "server_ms", "wall_ms")}
            if base:
                row["client_ratio"] = row["client_ms"] / median(base, "client_ms")
                row["server_ratio"] = row["server_ms"] / median(base, "server_ms")
            summary[f"{name} c={concurrency}"] = row
            print(f"  {name:36s} {row['client_ms']:10.3f} {row.get('client_ratio', 0):6.2f} "
                  f"{row['server_ms']:10.3f} {row.get('server_ratio', 0):6.2f} "
                  f"{row['wall_ms']:7.3f}")
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=400, help="calls per window")
    parser.add_argument("--only", default="", help="comma-separated variant names")
    parser.add_argument("--json", default="", help="write the medians to this file")
    args = parser.parse_args()
    names = [n for n in args.only.split(",") if n] or list(VARIANTS)
    unknown = set(names) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown variants {sorted(unknown)}; known: {list(VARIANTS)}")

    backends = {}
    try:
        for name in names:
            key = json.dumps(VARIANTS[name][0], sort_keys=True)
            if key not in backends:
                env = dict(os.environ, **{EXTRA_OPTIONS_ENV: key})
                backends[key] = LocalServe("--null_model", NULL_MODEL, env=env).start()
        results = asyncio.run(run(names, backends, args.rounds, args.calls))
    finally:
        for backend in backends.values():
            backend.stop()
    summary = report(names, results, len(request_bytes()))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=1)


if __name__ == "__main__":
    main()
