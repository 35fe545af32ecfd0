"""The direct-gRPC ceiling: Predict calls straight to the backend, no HTTP in front.

The request is serialized once before the clock starts and sent as raw bytes (identity
serializers), and the answer is not decoded: this is the least a client can spend per call, so
the gateway's CPU per request divided by this client's CPU per call is what our HTTP + JSON +
packing layer costs. Runs in its own process so its CPU time is its own; prints one JSON object.

    python -m bench.baselines.direct_grpc --target 127.0.0.1:8500 --model tiny \
        --input x=float32[1,8] --concurrency 32 --duration 5
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import time

from sanic_app.core.grpc_poller import use_classic_client_poller

use_classic_client_poller()  # the gateway's gRPC I/O path, so the floor is like for like

import grpc  # noqa: E402  (reads GRPC_EXPERIMENTS as it is imported)
import numpy as np  # noqa: E402

from sanic_app.protos import PREDICT, serving_pb2, tensor_pb2  # noqa: E402

_DT = {"float32": tensor_pb2.DT_FLOAT, "float16": tensor_pb2.DT_HALF,
       "uint8": tensor_pb2.DT_UINT8, "int64": tensor_pb2.DT_INT64, "int32": tensor_pb2.DT_INT32}
_SPEC_RE = re.compile(r"^(\w[\w.\-/]*)=(\w+)\[([0-9,\s]+)\]$")


def request_bytes(model: str, signature: str, inputs: list[str]) -> bytes:
    """PredictRequest bytes with zero-filled tensors, e.g. inputs=['x=float32[1,8]']."""
    req = serving_pb2.PredictRequest()
    req.model_spec.name = model
    req.model_spec.signature_name = signature
    for text in inputs:
        m = _SPEC_RE.match(text)
        if not m:
            raise SystemExit(f"--input {text!r}: expected NAME=DTYPE[d0,d1,...]")
        name, dtype, dims = m.group(1), m.group(2), [int(d) for d in m.group(3).split(",")]
        tensor = req.inputs[name]
        tensor.dtype = _DT[dtype]
        for d in dims:
            tensor.tensor_shape.dim.add().size = d
        tensor.tensor_content = np.zeros(dims, dtype=dtype).tobytes()
    return req.SerializeToString()


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


async def drive(target: str, payload: bytes, concurrency: int, warmup: float, duration: float):
    options = [("grpc.max_send_message_length", 256 << 20),
               ("grpc.max_receive_message_length", 256 << 20)]
    async with grpc.aio.insecure_channel(target, options=options) as channel:
        call = channel.unary_unary(PREDICT, request_serializer=None, response_deserializer=None)
        latencies: list[float] = []
        errors: dict[str, int] = {}
        state = {"open": False, "stop": False}

        async def worker():
            while not state["stop"]:
                t0 = time.perf_counter()
                try:
                    await call(payload, timeout=30)
                    code = None
                except grpc.aio.AioRpcError as exc:
                    code = exc.code().name
                if state["open"]:
                    latencies.append(time.perf_counter() - t0)
                    if code:
                        errors[code] = errors.get(code, 0) + 1

        tasks = [asyncio.ensure_future(worker()) for _ in range(concurrency)]
        await asyncio.sleep(warmup)
        cpu0, wall0 = _cpu(), time.perf_counter()
        state["open"] = True
        await asyncio.sleep(duration)
        state["open"] = False
        cpu1, wall1 = _cpu(), time.perf_counter()
        state["stop"] = True
        await asyncio.gather(*tasks, return_exceptions=True)
    lat = np.asarray(latencies) * 1000.0
    calls = len(lat)
    return {
        "calls": calls,
        "window_s": wall1 - wall0,
        "calls_per_s": calls / (wall1 - wall0),
        "client_cpu_s": cpu1 - cpu0,
        "client_cpu_ms_per_call": (cpu1 - cpu0) * 1000.0 / max(calls, 1),
        "latency_ms": {"p50": float(np.percentile(lat, 50)) if calls else None,
                       "p99": float(np.percentile(lat, 99)) if calls else None},
        "errors": errors,
        "request_bytes": len(payload),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--signature", default="serving_default")
    parser.add_argument("--input", action="append", required=True, metavar="NAME=DTYPE[dims]")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--duration", type=float, default=5.0)
    args = parser.parse_args(argv)
    payload = request_bytes(args.model, args.signature, args.input)
    result = asyncio.run(drive(args.target, payload, args.concurrency, args.warmup, args.duration))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
