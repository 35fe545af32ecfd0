"""Gateway CPU per small request, this working tree against a git revision, interleaved.

Run:  python -m bench.micro.bench_request_overhead [--baseline REV] [--rounds 5] [--duration 3]
                                                   [--scenario tensor|jpeg]

Why: the small-tensor scenario (f32[1,8] JSON -> null model) is pure per-request overhead
(HTTP, middleware, logging, metrics, JSON, gRPC), so its gateway CPU per request is the figure
to cut. ``--scenario jpeg`` sends one 500x375 JPEG as {"b64"} to a 299x299 float32 image spec
(the inceptionv3 shape), for the image path's per-request work. A full bench/run_load.py takes minutes; this takes one: one null backend (the embedded
LocalServe), two gateways with ``--workers 1`` serving the same spec (the baseline revision's
``sanic_app`` exported with ``git archive`` into a temporary folder and put first on
PYTHONPATH, and this working tree), and closed-loop windows at concurrency 1 (sequential) and
16 (concurrent) that alternate between the two so that outside load hits both alike. CPU is
user + system time of each gateway's whole process tree from /proc over the window, divided by
the answers completed in it. Access lines go to a log file, as in a deployment that ships them.

Prints one line per window, then medians per concurrency and the ratio working tree / baseline.
"""
from __future__ import annotations

import argparse
import base64
import contextlib
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import loadgen, procstat, scenarios
from bench.services import REPO, Service, bench_env, free_port, http_ok, null_backend, python_module

MODEL, INPUT, OUTPUT, WIDTH = "tiny", "x", "y", 8


def export_revision(rev: str, folder: Path) -> Path:
    """``sanic_app`` and ``fastpack`` as of ``rev`` in ``folder``, with this tree's generated
    *_pb2.py and compiled extensions (refused if the rev's Cython sources differ from the tree's:
    then its extensions would not be the ones measured)."""
    folder.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev, "sanic_app", "fastpack"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    for generated in (REPO / "sanic_app" / "protos").glob("*_pb2*.py"):
        target = folder / "sanic_app" / "protos" / generated.name
        if not target.exists():
            shutil.copy(generated, target)
    sources = subprocess.run(["git", "-C", str(REPO), "diff", "--quiet", rev, "--", "fastpack/*.pyx",
                              "fastpack/*.h"])
    if sources.returncode != 0:
        raise SystemExit(f"fastpack's Cython sources differ between {rev} and the tree: build the "
                         "baseline's extensions in a checkout of it to compare")
    for built in (REPO / "fastpack").glob("_*_c.*.so"):
        shutil.copy(built, folder / "fastpack" / built.name)
    return folder


IMAGE_INPUT = {"kind": "image", "dtype": "float32",
               "image": {"height": 299, "width": 299, "scale": 0.00784313725490196, "mean": [1.0]}}
SCENARIOS = {
    # input spec, null model signature, one request body
    "tensor": ({"kind": "tensor", "dtype": "float32", "shape": [-1, WIDTH]},
               f"{INPUT}=float32[-1,{WIDTH}]:{OUTPUT}=float32[-1,4]",
               lambda: [json.dumps({"instances": [row]}).encode() for row in scenarios.tiny_rows()]),
    "jpeg": (IMAGE_INPUT, f"{INPUT}=float32[-1,299,299,3]:{OUTPUT}=float32[-1,1000]",
             lambda: [json.dumps({"instances": [{"b64": base64.b64encode(
                 scenarios.photo_jpeg(500, 375)).decode()}]}).encode()]),
}


def write_spec(folder: Path, backend: str, input_spec: dict) -> Path:
    spec = folder / "tiny.json"
    spec.write_text(json.dumps({
        "model": {"name": MODEL, "signature_name": "serving_default"},
        "target": {"addresses": [backend], "deadline_ms": 5000},
        "inputs": {INPUT: input_spec},
        "outputs": {OUTPUT: {"postprocess": "raw"}},
    }))
    return spec


def start_gateway(name: str, spec: Path, logs: Path, pythonpath: Path | None) -> Service:
    port = free_port()
    argv = python_module("sanic_app", "--workers", "1", "--port", str(port), "--host",
                         "127.0.0.1", "-s", str(spec))
    # Safe-path mode: the working directory (the repo) must not shadow the baseline's package.
    env = bench_env(PYTHONSAFEPATH="1")
    if pythonpath is not None:
        env["PYTHONPATH"] = f"{pythonpath}:{env['PYTHONPATH']}"
    found = subprocess.run([sys.executable, "-c", "import sanic_app; print(sanic_app.__file__)"],
                           env=env, cwd=str(REPO), capture_output=True, text=True).stdout.strip()
    expected = (pythonpath or REPO) / "sanic_app" / "__init__.py"
    if Path(found) != expected:
        raise SystemExit(f"{name}: would import {found!r}, not {expected}")
    return Service(name, argv, port, env=env, log_dir=logs).start(ready=http_ok("/healthz"))


def predict_requests(scenario: str, host: str) -> list[bytes]:
    """The scenario's predict requests, ready to send."""
    return [loadgen.build_request("POST", f"/v1/models/{MODEL}:predict", host, body,
                                  [("Content-Type", "application/json")])
            for body in SCENARIOS[scenario][2]()]


@contextlib.contextmanager
def scenario_backend(scenario: str, folder: Path):
    """A null backend serving ``scenario``'s model and its spec file in ``folder``: yields
    (spec, logs folder); stops the backend on the way out."""
    input_spec, null_model, _ = SCENARIOS[scenario]
    logs = folder / "logs"
    logs.mkdir()
    backend = null_backend([f"{MODEL}:{null_model}"], logs)
    try:
        yield write_spec(folder, backend.address, input_spec), logs
    finally:
        backend.stop()


@contextlib.contextmanager
def scenario_gateway(scenario: str):
    """One null backend and one gateway of this tree (``--workers 1``) serving ``scenario``'s spec,
    with the scenario's predict requests built: the set-up the worker profile and the system-call
    count share. Yields (gateway, requests); stops both on the way out."""
    with tempfile.TemporaryDirectory(prefix="bench-overhead-") as tmp, \
            scenario_backend(scenario, Path(tmp)) as (spec, logs):
        gateway = start_gateway("tree", spec, logs, None)
        try:
            yield gateway, predict_requests(scenario, gateway.address)
        finally:
            gateway.stop()


def start_lean(spec: Path, logs: Path) -> Service:
    """bench/baselines/lean_http.py on the same spec: the predict path without Sanic."""
    port = free_port()
    argv = python_module("bench.baselines.lean_http", "--port", str(port), "-s", str(spec))
    return Service("lean", argv, port, env=bench_env(), log_dir=logs).start(ready=http_ok("/healthz"))


def window(gateway: Service, requests: list[bytes], concurrency: int, warmup: float,
           duration: float) -> dict:
    samples = {}

    async def start():
        samples["before"] = procstat.sample_tree(gateway.pid)

    async def end():
        samples["after"] = procstat.sample_tree(gateway.pid)

    result = loadgen.run_load(gateway.host, gateway.port, requests, concurrency=concurrency,
                              warmup_s=warmup, duration_s=duration, on_window_start=start,
                              on_window_end=end)
    used = procstat.delta(samples["before"], samples["after"])
    bad = {k: v for k, v in result.statuses.items() if k != 200}
    if bad:
        raise SystemExit(f"{gateway.name}: non-200 answers {bad}; see {gateway.log_path}")
    n = result.completed
    return {"requests": n, "rps": n / result.window_s, "cpu_ms": used["cpu_s"] * 1000.0 / n,
            "sys_ms": used["sys_s"] * 1000.0 / n, "gen_cpu": result.generator_cpu_s / result.window_s}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--baseline", default="HEAD", help="git revision to compare with (default HEAD)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--duration", type=float, default=3.0)
    p.add_argument("--warmup", type=float, default=0.5)
    p.add_argument("--concurrency", default="1,16", help="comma-separated closed-loop connections")
    p.add_argument("--only-tree", action="store_true", help="measure the working tree alone")
    p.add_argument("--scenario", choices=sorted(SCENARIOS), default="tensor")
    p.add_argument("--lean", action="store_true",
                   help="also measure bench/baselines/lean_http.py: this tree's predict path without Sanic")
    args = p.parse_args(argv)
    levels = [int(c) for c in args.concurrency.split(",")]

    with tempfile.TemporaryDirectory(prefix="bench-overhead-") as tmp, \
            scenario_backend(args.scenario, Path(tmp)) as (spec, logs):
        gateways = []
        try:
            if not args.only_tree:
                base_dir = export_revision(args.baseline, Path(tmp) / "baseline")
                gateways.append(start_gateway("baseline", spec, logs, base_dir))
            gateways.append(start_gateway("tree", spec, logs, None))
            if args.lean:
                gateways.append(start_lean(spec, logs))
            requests = predict_requests(args.scenario, gateways[0].address)
            figures: dict = {(g.name, c): [] for g in gateways for c in levels}
            for r in range(args.rounds):
                order = gateways if r % 2 == 0 else gateways[::-1]
                for c in levels:
                    for g in order:
                        w = window(g, requests, c, args.warmup, args.duration)
                        figures[(g.name, c)].append(w["cpu_ms"])
                        print(f"round {r} c={c:<3} {g.name:<8} {w['rps']:7.0f} req/s  "
                              f"CPU {w['cpu_ms']:.3f} ms/req (sys {w['sys_ms']:.3f})  "
                              f"gen {w['gen_cpu']:.2f} cores", flush=True)
        finally:
            for g in gateways:
                g.stop()

    print(f"\nmedian gateway CPU ms per request over {args.rounds} rounds "
          f"(scenario {args.scenario}, baseline = {args.baseline}):")
    summary = {}
    for c in levels:
        row = {g.name: statistics.median(figures[(g.name, c)]) for g in gateways}
        text = "  ".join(f"{name} {ms:.3f}" for name, ms in row.items())
        if "baseline" in row:
            row["ratio"] = row["tree"] / row["baseline"]
            text += f"  tree/baseline {row['ratio']:.2f}"
        if "lean" in row:
            row["lean_ratio"] = row["lean"] / row["tree"]
            text += f"  lean/tree {row['lean_ratio']:.2f}"
        summary[f"c{c}"] = row
        print(f"  c={c:<3} {text}")
    print(json.dumps(summary))


if __name__ == "__main__":
    sys.exit(main())
