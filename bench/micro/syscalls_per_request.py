"""System calls per request in one gateway worker, counted by ``strace -c``.

Run:  python -m bench.micro.syscalls_per_request [--scenario tensor|jpeg] [--concurrency 1]
                                                 [--seconds 3]

Why: py-spy shows where the worker's CPU goes, not how often it crosses into the kernel or
hands work between threads. A unary grpc.aio call completes on grpc's poller thread, which
wakes the event loop through a file descriptor: each call costs futex and epoll calls and a
write and read pair on top of the call's own sendmsg/recvmsg. This counts them, per answered
request, for bench_request_overhead's set-up (one null backend, one gateway with
``--workers 1``), under a closed loop. strace slows the worker several times over, so read
the counts, not the time columns. Needs strace and ptrace rights over the worker.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import loadgen
from bench.micro.bench_request_overhead import SCENARIOS, scenario_gateway


def counts(summary: str) -> dict[str, int]:
    """``strace -c`` output -> {syscall: calls}."""
    found = {}
    for line in summary.splitlines():
        fields = line.split()
        # % time, seconds, usecs/call, calls, [errors,] syscall
        if len(fields) >= 5 and fields[3].isdigit() and fields[-1] != "total":
            found[fields[-1]] = int(fields[3])
    return found


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", choices=sorted(SCENARIOS), default="tensor")
    p.add_argument("--concurrency", type=int, default=1)
    p.add_argument("--seconds", type=float, default=3.0)
    args = p.parse_args(argv)
    if shutil.which("strace") is None:
        raise SystemExit("needs strace (apt-get install strace)")
    with tempfile.TemporaryDirectory(prefix="bench-syscalls-") as tmp, \
            scenario_gateway(args.scenario) as (gateway, requests):
        (worker,) = gateway.workers()
        loadgen.run_load(gateway.host, gateway.port, requests, concurrency=args.concurrency,
                         warmup_s=0.2, duration_s=1.0)
        out = Path(tmp) / "strace.txt"
        tracer = subprocess.Popen(["strace", "-c", "-f", "-p", str(worker), "-o", str(out)],
                                  stderr=subprocess.DEVNULL)
        time.sleep(0.5)  # attached to every thread before the window opens
        result = loadgen.run_load(gateway.host, gateway.port, requests, concurrency=args.concurrency,
                                  warmup_s=0.0, duration_s=args.seconds)
        tracer.terminate()
        tracer.wait(timeout=30)
        bad = {k: v for k, v in result.statuses.items() if k != 200}
        if bad or not result.completed:
            raise SystemExit(f"non-200 answers or none at all: {dict(result.statuses)}")
        calls = counts(out.read_text())
    n = result.completed
    print(f"scenario {args.scenario}, {args.concurrency} connection(s): {n} answers under strace")
    print("syscall          calls per request")
    for name, total in sorted(calls.items(), key=lambda kv: -kv[1]):
        if total / n >= 0.01:
            print(f"{name:16s} {total / n:8.2f}")
    print(f"{'all':16s} {sum(calls.values()) / n:8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
