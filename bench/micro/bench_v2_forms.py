"""Gateway CPU per request for the same work sent in each request form, v2 against v1, interleaved.

Run:  python -m bench.micro.bench_v2_forms [--rounds 5] [--duration 3] [--concurrency 2]

Why: the Open Inference Protocol's binary tensor extension exists to skip the JSON (or
base64) cost of a tensor; this measures what each form costs the gateway for one request:

- one f32[1,299,299,3] tensor as v2 binary, v2 JSON (flat ``data``) and v1 JSON numbers
  (``instances``, nested, as TF Serving clients write it);
- one 500x375 JPEG as a v2 BYTES element (binary) and as v1 ``{"b64": ...}``;

all to the InceptionV3 spec (its image pipeline for the JPEGs; the tensors skip it) on a null
backend, every answer the same top 5 (v1: the spec's top-k; v2: the classification
extension), so only the request form differs. The floor is the same run's direct-gRPC client
sending the preprocessed f32[1,299,299,3] Predict (its own CPU per call, bench/baselines).
One gateway with ``--workers 1``; windows rotate through the forms, round after round, so
outside load hits all alike. CPU is user + system of the gateway's process tree over a window,
divided by the answers completed in it.
"""
from __future__ import annotations

import argparse
import base64
import json
import statistics
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import orjson

from bench import loadgen, procstat, scenarios
from bench.services import REPO, Service, bench_env, free_port, http_ok, python_module

MODEL, INPUT, OUTPUT = "inceptionv3", "images", "scores"
SHAPE = (1, 299, 299, 3)
HEADER = "Inference-Header-Content-Length"


def bodies(host: str) -> dict[str, bytes]:
    """One ready-to-send HTTP request per form."""
    rng = np.random.default_rng(5)
    pixels = rng.uniform(-1, 1, SHAPE).astype(np.float32)
    jpeg = scenarios.photo_jpeg(500, 375)
    top5 = [{"name": OUTPUT, "parameters": {"classification": 5}}]
    v2 = f"/v2/models/{MODEL}/infer"
    v1 = f"/v1/models/{MODEL}:predict"
    json_type = [("Content-Type", "application/json")]

    def binary(inputs: list, *sections: bytes) -> bytes:
        head = orjson.dumps({"inputs": inputs, "outputs": top5})
        return loadgen.build_request("POST", v2, host, head + b"".join(sections),
                                     [("Content-Type", "application/octet-stream"), (HEADER, str(len(head)))])

    return {
        "v2 binary f32": binary([{"name": INPUT, "datatype": "FP32", "shape": list(SHAPE),
                                  "parameters": {"binary_data_size": pixels.nbytes}}], pixels.tobytes()),
        "v2 JSON f32": loadgen.build_request("POST", v2, host, orjson.dumps({
            "inputs": [{"name": INPUT, "datatype": "FP32", "shape": list(SHAPE), "data": pixels.reshape(-1).tolist()}],
            "outputs": top5}), json_type),
        "v1 JSON f32": loadgen.build_request("POST", v1, host, orjson.dumps({"instances": pixels.tolist()}), json_type),
        "v2 BYTES jpeg": binary([{"name": INPUT, "datatype": "BYTES", "shape": [1],
                                  "parameters": {"binary_data_size": 4 + len(jpeg)}}],
                                struct.pack("<I", len(jpeg)) + jpeg),
        "v1 b64 jpeg": loadgen.build_request("POST", v1, host, orjson.dumps(
            {"instances": [{"b64": base64.b64encode(jpeg).decode()}]}), json_type),
    }


def gateway_window(gateway: Service, request: bytes, concurrency: int, warmup: float, duration: float) -> float:
    samples = {}

    async def start():
        samples["before"] = procstat.sample_tree(gateway.pid)

    async def end():
        samples["after"] = procstat.sample_tree(gateway.pid)

    result = loadgen.run_load(gateway.host, gateway.port, [request], concurrency=concurrency, warmup_s=warmup,
                              duration_s=duration, on_window_start=start, on_window_end=end)
    bad = {k: v for k, v in result.statuses.items() if k != 200}
    if bad or not result.completed:
        raise SystemExit(f"non-200 answers {bad}; see {gateway.log_path}")
    return procstat.delta(samples["before"], samples["after"])["cpu_s"] * 1000.0 / result.completed


def grpc_floor(target: str, concurrency: int, warmup: float, duration: float) -> float:
    out = subprocess.run(python_module("bench.baselines.direct_grpc", "--target", target, "--model", MODEL,
                                       "--input", f"{INPUT}=float32[{','.join(map(str, SHAPE))}]",
                                       "--concurrency", str(concurrency), "--warmup", str(warmup),
                                       "--duration", str(duration)),
                         env=bench_env(), cwd=str(REPO), capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["client_cpu_ms_per_call"]


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--duration", type=float, default=3.0)
    p.add_argument("--warmup", type=float, default=0.5)
    p.add_argument("--concurrency", type=int, default=2)
    args = p.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-v2-") as tmp:
        logs = Path(tmp)
        backend_port = free_port()
        backend = Service("backend", python_module(
            "sanic_app.localserve", "--port", str(backend_port),
            "--null_model", f"{MODEL}:{INPUT}=float32[-1,299,299,3]:{OUTPUT}=float32[-1,1001]"),
            backend_port, log_dir=logs).start(timeout=60)
        gateway = None
        try:
            spec = json.loads((REPO / "specs" / "inceptionv3.json").read_text())
            spec["target"] = {"addresses": [backend.address], "deadline_ms": 10000}
            spec_file = logs / "inceptionv3.json"
            spec_file.write_text(json.dumps(spec))
            port = free_port()
            gateway = Service("gateway", python_module("sanic_app", "--workers", "1", "--port", str(port),
                                                       "--host", "127.0.0.1", "-s", str(spec_file)),
                              port, env=bench_env(), log_dir=logs).start(ready=http_ok("/healthz"))
            requests = bodies(gateway.address)
            figures: dict[str, list[float]] = {name: [] for name in [*requests, "direct gRPC f32 (floor)"]}
            for r in range(args.rounds):
                names = list(requests) if r % 2 == 0 else list(requests)[::-1]
                for name in names:
                    ms = gateway_window(gateway, requests[name], args.concurrency, args.warmup, args.duration)
                    figures[name].append(ms)
                    print(f"round {r} {name:<16} gateway CPU {ms:7.3f} ms/req", flush=True)
                ms = grpc_floor(backend.address, args.concurrency, args.warmup, args.duration)
                figures["direct gRPC f32 (floor)"].append(ms)
                print(f"round {r} {'direct gRPC':<16} client CPU  {ms:7.3f} ms/call", flush=True)
        finally:
            if gateway is not None:
                gateway.stop()
            backend.stop()

    floor = statistics.median(figures["direct gRPC f32 (floor)"])
    binary = statistics.median(figures["v2 binary f32"])
    print(f"\nmedian CPU ms per request over {args.rounds} rounds (concurrency {args.concurrency}):")
    summary = {}
    for name, values in figures.items():
        ms = statistics.median(values)
        summary[name] = {"ms": round(ms, 3), "x_floor": round(ms / floor, 2), "x_v2_binary": round(ms / binary, 2)}
        print(f"  {name:<24} {ms:8.3f}  x floor {ms / floor:6.2f}  x v2 binary {ms / binary:6.2f}")
    print(json.dumps(summary))


if __name__ == "__main__":
    sys.exit(main())
