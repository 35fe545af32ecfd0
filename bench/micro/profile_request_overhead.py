"""Where one gateway worker's CPU goes for bench_request_overhead's requests: py-spy --native,
busy samples sorted into the request's parts.

Run:  python -m bench.micro.profile_request_overhead [--scenario tensor|jpeg] [--seconds 20]
                                                     [--concurrency 16] [--out DIR]

Why: the cuts of issue 17 go where the time is, so the shares come first. The set-up is
bench_request_overhead's (one null LocalServe backend, one gateway with ``--workers 1`` and the
scenario's spec, access lines to a file); a closed loop at ``--concurrency`` keeps the worker
busy while py-spy samples it with native frames (the C time of libjpeg-turbo, the kernel, grpc
and the socket calls). Samples whose leaf is an epoll wait are idle and left out; the rest are
sorted by the first rule of CATEGORIES that a frame of the stack matches (so "JPEG decode"
includes everything under the decoder). Writes the collapsed stacks and an SVG flamegraph to
``--out`` and prints the shares. py-spy slows the worker (native unwinding stops it per sample):
read the shares, not the absolute times. Needs ptrace rights (see bench/profile.py).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from pathlib import Path

from bench import loadgen, procstat, profile
from bench.micro.bench_request_overhead import SCENARIOS, scenario_gateway

IDLE_LEAVES = ("epoll_wait ", "epoll_pwait ")
# (category, substrings of a frame); first match wins, tried against every frame of a stack.
CATEGORIES = [
    ("JPEG decode (libjpeg-turbo via simplejpeg, header + marker scan)", ["_decode_jpeg"]),
    ("resize + normalise kernel (fastpack)", ["write_image", "_kernel_c", "ImageBatchBase"]),
    ("pack: encode_predict_request", ["encode_predict_request"]),
    ("unpack: decode_predict_response", ["decode_predict_response"]),
    ("grpc.aio call on the loop (call object, task, sendmsg)", ["Upstream.call", "grpc/aio/"]),
    ("grpc poller thread", ["Thread.run"]),
    ("JSON depth guard", ["check_json_depth"]),
    ("JSON parse (orjson) + body form", ["parse_json", "call_from_json", "call_from_request"]),
    ("base64", ["b64_bytes"]),
    ("numeric input checks (numeric_array)", ["numeric_array"]),
    ("rest of the decode stage", ["InputDecoder"]),
    ("answer writer (predict_body)", ["predict_body"]),
    ("rest of the handler (URL, registry, pipeline glue)", ["post_model"]),
    ("access line", ["write_access_line", "log_response"]),
    ("metrics (answer hook)", ["sanic_app/http/metrics.py", "sanic_app/ops/metrics.py"]),
    ("admission (head and answer hooks, slot)", ["sanic_app/ops/admission.py"]),
    ("request id and clock (hooks)", ["stamp_request", "echo_request_id"]),
    ("hook runner (routing lookup, calls)", ["RequestHooks"]),
    ("Sanic signal dispatch", ["SignalRouter"]),
    ("Sanic: response headers + socket write", ["BaseHTTPResponse.send", "http1_response_header"]),
    ("Sanic: request parsing, body, routing, middleware runner",
     ["handle_request", "Http.http1", "connection_task", "receive_body"]),
    ("event loop, socket reads, other", [""]),
]


def shares(stacks: Counter) -> tuple[int, list[tuple[str, float]]]:
    busy, found = 0, Counter()
    for stack, n in stacks.items():
        if stack[-1].startswith(IDLE_LEAVES):
            continue
        busy += n
        for name, keys in CATEGORIES:
            if any(k in frame for frame in stack for k in keys):
                found[name] += n
                break
    return busy, [(name, found[name] / busy) for name, _ in CATEGORIES if found[name]]


def busiest(pid: int) -> int:
    """The process of the gateway's tree that used the most CPU: with --workers 1, the worker."""
    return max(procstat.tree(pid), key=lambda p: procstat.sample(p).cpu_s)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", choices=sorted(SCENARIOS), default="tensor")
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    p.add_argument("--out", type=Path, default=None, help="folder for the stacks and flamegraph")
    args = p.parse_args(argv)
    if (why := profile.available()) is not None:
        raise SystemExit(why)
    out = args.out or Path(tempfile.mkdtemp(prefix="profile-overhead-"))
    with scenario_gateway(args.scenario) as (gateway, requests):
        loadgen.run_load(gateway.host, gateway.port, requests, concurrency=args.concurrency,
                         warmup_s=0.5, duration_s=2.0)  # warm: pipeline, channel, caches
        worker = busiest(gateway.pid)
        recorder = profile.Recorder([worker], out, args.seconds, rate=args.rate, native=True,
                                    label=args.scenario)
        result = loadgen.run_load(gateway.host, gateway.port, requests,
                                  concurrency=args.concurrency, warmup_s=0.2,
                                  duration_s=max(1.0, args.seconds - 1.0))
        raw = recorder.wait(timeout=args.seconds + 60)
    if worker not in raw:
        raise SystemExit(f"py-spy recorded nothing; see {out}")
    stacks = profile.read_collapsed(raw[worker])
    profile.write_flamegraph(stacks, out / f"{args.scenario}.svg",
                             f"gateway worker, scenario {args.scenario}, c={args.concurrency}")
    busy, parts = shares(stacks)
    print(f"scenario {args.scenario}: {result.completed} answers while sampling, {busy} busy samples "
          f"of the worker; stacks and flamegraph in {out}")
    for name, share in parts:
        print(f"  {share * 100:5.1f}%  {name}")


if __name__ == "__main__":
    sys.exit(main())
