"""Thread CPU per call of the per-request functions issue 17 cut, this tree against a revision.

Run:  python -m bench.micro.bench_hot_functions [--baseline REV] [--rounds 6]

Why: each of these cuts is worth microseconds, below the noise of an HTTP-level figure on a
shared machine (bench_request_overhead measures the sum). Here each function runs in a fresh
child process per round, the baseline revision's ``sanic_app`` (exported as
bench_request_overhead does) and this tree's alternating, and reports its thread CPU per call:
the depth guard on an f32[1,8] predict body and on a 500x375 JPEG's base64 body, the numeric
input check of that f32[1,8] row, the metrics middleware (worker bound, as in a server) and the
decode of the JPEG (whose warning filter left the JPEG path). Prints medians and tree/baseline.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.micro.bench_request_overhead import export_revision
from bench.services import REPO, bench_env

CHILD = r'''
import asyncio, base64, json, time
from types import SimpleNamespace
import numpy as np
from bench import scenarios
from sanic_app.core import imaging
from sanic_app.core.decode import numeric_array
from sanic_app.core.spec import ImageSpec
from sanic_app.core.stages import StageTimings
from sanic_app.http import metrics as http_metrics
from sanic_app.http.jsonbody import check_json_depth

def per_call_us(f, n):
    f()
    start = time.thread_time()
    for _ in range(n):
        f()
    return (time.thread_time() - start) * 1e6 / n

row = [[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]]
small = json.dumps({"instances": row}).encode()
jpeg = scenarios.photo_jpeg(500, 375)
big = json.dumps({"instances": [{"b64": base64.b64encode(jpeg).decode()}]}).encode()
spec = SimpleNamespace(dtype=np.dtype("float32"), name="x")
image = ImageSpec(height=299, width=299)
asyncio.run(http_metrics.bind_worker(SimpleNamespace(ctx=SimpleNamespace(settings=SimpleNamespace(metrics_dir=None)))))
route, answer = SimpleNamespace(name="gw.tfserving.post_model", path=""), SimpleNamespace(status=200)

def request():
    timings = StageTimings()
    timings.decode, timings.pack, timings.backend, timings.unpack, timings.serialize = 1e-5, 2e-5, 1e-4, 1e-6, 3e-6
    now = time.perf_counter()  # both names: older revisions read metrics_started
    return SimpleNamespace(route=route, ctx=SimpleNamespace(metrics_started=now, received_at=now, model="m", timings=timings))

requests = iter([request() for _ in range(20001)])

def record():
    done = http_metrics.record(next(requests), answer)
    if done is not None:  # older revisions: a middleware coroutine
        try:
            done.send(None)
        except StopIteration:
            pass

print(json.dumps({
    "check_json_depth f32[1,8] body": per_call_us(lambda: check_json_depth(small, 64), 20000),
    "check_json_depth JPEG b64 body": per_call_us(lambda: check_json_depth(big, 64), 5000),
    "numeric_array f32[1,8]": per_call_us(lambda: numeric_array(row, spec, "input 'x'"), 20000),
    "metrics record": per_call_us(record, 20000),
    "decode_image JPEG 500x375": per_call_us(lambda: imaging.decode_image(jpeg, image, max_pixels=40_000_000), 300),
}))
'''


def run_child(pythonpath: Path) -> dict:
    env = bench_env(PYTHONSAFEPATH="1")
    env["PYTHONPATH"] = f"{pythonpath}:{env['PYTHONPATH']}"
    out = subprocess.run([sys.executable, "-c", CHILD], env=env, cwd=str(REPO), check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--baseline", default="HEAD")
    p.add_argument("--rounds", type=int, default=6)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-hot-") as tmp:
        base = export_revision(args.baseline, Path(tmp) / "baseline")
        runs = {"baseline": [], "tree": []}
        for r in range(args.rounds):
            order = [("baseline", base), ("tree", REPO)]
            for name, path in (order if r % 2 == 0 else order[::-1]):
                runs[name].append(run_child(path))
            print(f"round {r}: " + "  ".join(
                f"{name} {json.dumps({k: round(v, 2) for k, v in runs[name][-1].items()})}"
                for name in runs), flush=True)
    print(f"\nmedian thread CPU us per call over {args.rounds} rounds (baseline = {args.baseline}):")
    for key in runs["tree"][0]:
        b = statistics.median(x[key] for x in runs["baseline"])
        t = statistics.median(x[key] for x in runs["tree"])
        print(f"  {key:<32} baseline {b:8.2f}  tree {t:8.2f}  tree/baseline {t / b:.2f}")


if __name__ == "__main__":
    sys.exit(main())
