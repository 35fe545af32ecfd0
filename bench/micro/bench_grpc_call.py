"""CPU per grpc.aio unary call, registered method handle against a plain one, interleaved.

Run:  python -m bench.micro.bench_grpc_call [--rounds 6] [--calls 3000] [--concurrency 1]

Why: for a small tensor the grpc.aio call is the largest single item of the gateway's CPU per
request. ``channel.unary_unary(..., _registered_method=True)`` (what generated stubs pass since
grpc 1.62) resolves the method path to a core handle once per channel instead of once per call.
One null backend (LocalServe, f32[-1,8] -> f32[-1,4]), one client process with one channel and
both callables on it; rounds alternate which goes first. CPU is this process's user + system
time (the event loop and grpc's poller thread) over the calls, divided by the calls.
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import grpc
import numpy as np

from bench.services import null_backend
from sanic_app.core.upstream import channel_options
from sanic_app.protos import PREDICT, serving_pb2


def predict_bytes() -> bytes:
    """One f32[1,8] PredictRequest, made once with protobuf (the bench's setup, not a hot path)."""
    request = serving_pb2.PredictRequest()
    request.model_spec.name = "tiny"
    request.model_spec.signature_name = "serving_default"
    tensor = request.inputs["x"]
    tensor.dtype = 1  # DT_FLOAT
    tensor.tensor_shape.dim.add().size = 1
    tensor.tensor_shape.dim.add().size = 8
    tensor.tensor_content = np.arange(8, dtype="<f4").tobytes()
    return request.SerializeToString()


async def measure(call, body: bytes, calls: int, concurrency: int) -> float:
    """CPU milliseconds per call for ``calls`` calls, ``concurrency`` at a time."""
    per_worker = calls // concurrency

    async def worker():
        for _ in range(per_worker):
            await call(body, timeout=5.0)

    start = time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return (time.process_time() - start) * 1000.0 / (per_worker * concurrency)


async def run(address: str, rounds: int, calls: int, concurrency: int) -> dict:
    body = predict_bytes()
    channel = grpc.aio.insecure_channel(address, options=channel_options(64 << 20))
    variants = {
        "plain": channel.unary_unary(PREDICT, request_serializer=None, response_deserializer=None),
        "registered": channel.unary_unary(PREDICT, request_serializer=None, response_deserializer=None,
                                          _registered_method=True),
    }
    for call in variants.values():  # connect and warm up both
        await measure(call, body, 300, concurrency)
    figures = {name: [] for name in variants}
    for r in range(rounds):
        order = list(variants) if r % 2 == 0 else list(variants)[::-1]
        for name in order:
            ms = await measure(variants[name], body, calls, concurrency)
            figures[name].append(ms)
            print(f"round {r} {name:<10} {ms * 1000:.1f} us/call", flush=True)
    await channel.close()
    return figures


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--calls", type=int, default=3000)
    p.add_argument("--concurrency", type=int, default=1)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-grpc-call-") as tmp:
        backend = null_backend(["tiny:x=float32[-1,8]:y=float32[-1,4]"], Path(tmp))
        try:
            figures = asyncio.run(run(backend.address, args.rounds, args.calls, args.concurrency))
        finally:
            backend.stop()
    plain, registered = (statistics.median(figures[n]) for n in ("plain", "registered"))
    print(f"\nmedian client CPU per call over {args.rounds} rounds (concurrency {args.concurrency}): "
          f"plain {plain * 1000:.1f} us, registered {registered * 1000:.1f} us, "
          f"registered/plain {registered / plain:.3f}")


if __name__ == "__main__":
    sys.exit(main())
