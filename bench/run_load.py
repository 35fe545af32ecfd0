"""One command for a load test: backend, gateway, load over real HTTP, baselines, report.

    python bench/run_load.py                       # everything, ~10 minutes on 2 cores
    python bench/run_load.py --scenarios jpeg_500x375,tensor_f32x8 --duration 5 --profile
    python bench/run_load.py --target 10.0.0.5:8500 --baselines none   # a real TF Serving

Starts the embedded backend serving null models shaped like the scenarios need (unless
--target), the gateway with --workers N, drives each scenario closed-loop (capacity) then
open-loop at fractions of that capacity (latency without coordinated omission), samples the
gateway's processes in /proc and its /metrics around each measured window, runs the baselines
in the same run, and writes results.json, report.md and latency.png under --out. Everything
it started is stopped on the way out, also on Ctrl-C.
"""
from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Optional

if __package__ in (None, ""):  # run as a script: make `bench` and `sanic_app` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import gateway_metrics, loadgen, procstat, profile, report, scenarios  # noqa: E402
from bench.services import (REPO, Service, bench_env, free_port, http_ok, all_workers_answer,  # noqa: E402
                            python_module, tcp_ready)

IMAGE_SPEC = REPO / "specs" / "inceptionv3.json"
BASELINES = ("old", "purepy", "bare", "grpc", "floor")


# ----------------------------------------------------------------------------------- setup

def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scenarios", default=",".join(scenarios.DEFAULT_SCENARIOS),
                   help=f"comma list of {', '.join(scenarios.SCENARIOS)}")
    p.add_argument("--workers", type=int, default=2, help="gateway workers (default 2)")
    p.add_argument("--target", default=None, help="host:port of a running TF Serving; default: "
                   "start the embedded backend with null models")
    p.add_argument("--image-spec", default=str(IMAGE_SPEC), help="spec of the image model")
    p.add_argument("--concurrency", type=int, default=32, help="closed-loop connections")
    p.add_argument("--rates", default="0.5",
                   help="open-loop rates as fractions of the closed-loop throughput (0.5 is the "
                        "p99/p50 target point; add e.g. 0.25,0.5,0.75,0.9 for the plot)")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds before each window")
    p.add_argument("--duration", type=float, default=8.0, help="seconds of each measured window")
    p.add_argument("--baselines", default=",".join(BASELINES),
                   help=f"comma list of {', '.join(BASELINES)}, or 'none'")
    p.add_argument("--backend-delay-ms", type=float, default=0.0,
                   help="artificial latency of the null backend")
    p.add_argument("--profile", action="store_true",
                   help="py-spy every gateway worker during an extra run of each profiled scenario")
    p.add_argument("--profile-scenarios", default="jpeg_500x375,tensor_f32x8")
    p.add_argument("--profile-native", action="store_true", help="py-spy --native (C frames)")
    p.add_argument("--out", default=None, help="report folder (default bench/results/<time>)")
    args = p.parse_args(argv)
    args.scenario_list = [s for s in args.scenarios.split(",") if s]
    unknown = [s for s in args.scenario_list if s not in scenarios.SCENARIOS]
    if unknown:
        p.error(f"unknown scenario(s) {unknown}; known: {list(scenarios.SCENARIOS)}")
    args.baseline_set = set() if args.baselines == "none" else set(args.baselines.split(","))
    if args.baseline_set - set(BASELINES):
        p.error(f"unknown baseline(s) {sorted(args.baseline_set - set(BASELINES))}")
    args.rate_fractions = [float(r) for r in args.rates.split(",") if r]
    return args


def machine() -> str:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{os.cpu_count()} CPUs ({model}), {mem:.0f} GiB RAM, Linux {platform.release()}, "
            f"Python {platform.python_version()}")


class Models:
    """The served models: names, signatures and the spec files the gateway gets."""

    def __init__(self, image_spec: Path, folder: Path):
        doc = json.loads(image_spec.read_text())
        self.doc, self.folder = doc, folder
        self.image_model = doc["model"]["name"]
        self.image_input, image_in = next(iter(doc["inputs"].items()))
        self.image_dtype = image_in.get("dtype", "float32")
        img = image_in["image"]
        channels = 1 if img.get("color") == "grayscale" else 3
        self.image_item = ([img["height"], img["width"], channels] if img.get("layout", "NHWC")
                           == "NHWC" else [channels, img["height"], img["width"]])
        self.image_outputs = {}
        for name, out in doc.get("outputs", {"scores": {}}).items():
            classes = 1001
            if out.get("labels"):
                labels_path = image_spec.parent / out["labels"]
                classes = len([l for l in labels_path.read_text().splitlines() if l.strip()])
                out["labels"] = str(labels_path.resolve())  # the copy lives elsewhere
            self.image_outputs[name] = classes
        self.signature = doc["model"].get("signature_name") or "serving_default"
        self.image_spec = folder / image_spec.name
        self.tiny_spec = folder / "tiny.json"

    def write_specs(self, backend: str) -> None:
        """The gateway's spec files, pointing at ``backend``."""
        doc = dict(self.doc, target={**self.doc.get("target", {}), "addresses": [backend]})
        self.image_spec.write_text(json.dumps(doc))
        self.tiny_spec.write_text(json.dumps({
            "model": {"name": scenarios.TINY_MODEL, "signature_name": "serving_default"},
            "target": {"addresses": [backend], "deadline_ms": 5000},
            "inputs": {scenarios.TINY_INPUT: {"kind": "tensor", "dtype": "float32",
                                              "shape": [-1, scenarios.TINY_WIDTH]}},
            "outputs": {scenarios.TINY_OUTPUT: {"postprocess": "raw"}},
        }))

    def null_model_flags(self) -> list[str]:
        dims = ",".join(str(d) for d in [-1, *self.image_item])
        outs = ":".join(f"{n}=float32[-1,{c}]" for n, c in self.image_outputs.items())
        tiny = (f"{scenarios.TINY_INPUT}=float32[-1,{scenarios.TINY_WIDTH}]:"
                f"{scenarios.TINY_OUTPUT}=float32[-1,{scenarios.TINY_CLASSES}]")
        flags = []
        for text in (f"{self.image_model}:{self.image_input}={self.image_dtype}[{dims}]:{outs}",
                     f"{scenarios.TINY_MODEL}:{tiny}", f"{scenarios.PASSTHRU_MODEL}:{tiny}"):
            flags += ["--null_model", text]
        return flags

    def context(self, host: str) -> scenarios.Context:
        return scenarios.Context(host=host, image_model=self.image_model,
                                 image_input=self.image_input)

    def grpc_inputs(self, scenario: scenarios.Scenario) -> tuple[str, list[str]]:
        """(model, --input flags) of the tensor the gateway sends for a scenario."""
        if scenario.model == "image":
            batch = 8 if scenario.name == "jpeg_batch8" else 1
            dims = ",".join(str(d) for d in [batch, *self.image_item])
            return self.image_model, [f"{self.image_input}={self.image_dtype}[{dims}]"]
        model = scenarios.TINY_MODEL if scenario.model == "tiny" else scenarios.PASSTHRU_MODEL
        return model, [f"{scenarios.TINY_INPUT}=float32[1,{scenarios.TINY_WIDTH}]"]


# ----------------------------------------------------------------------------- measuring

async def _fetch_metrics(svc: Service) -> Optional[dict]:
    request = loadgen.build_request("GET", "/metrics", svc.address)
    try:
        status, body = await loadgen.fetch(svc.host, svc.port, request, timeout=5.0)
    except (OSError, asyncio.TimeoutError, loadgen.ConnectionClosed):
        return None
    if status != 200:
        return None
    try:
        return gateway_metrics.parse(body.decode("utf-8", "replace"))
    except Exception:  # a scrape we cannot parse only costs the breakdown
        return None


def probe(svc: Service, request: bytes) -> dict:
    """One request on its own, to check the scenario works before loading it."""
    loop = loadgen.new_loop()
    try:
        t0 = time.perf_counter()
        status, body = loop.run_until_complete(loadgen.fetch(svc.host, svc.port, request, 60.0))
        return {"status": status, "ms": (time.perf_counter() - t0) * 1000.0,
                "bytes": len(body), "body": body[:300].decode("utf-8", "replace")}
    except Exception as exc:  # the run goes on with the other scenarios
        return {"status": None, "error": f"{type(exc).__name__}: {exc}"}
    finally:
        loop.close()


def measure(svc: Service, requests: list[bytes], args, *, rate: Optional[float] = None,
            with_metrics: bool = False, model: Optional[str] = None) -> dict:
    """One load window against ``svc``: latency, throughput and the service's CPU per request."""
    snaps: dict = {}

    async def start():
        if with_metrics:
            snaps["m0"] = await _fetch_metrics(svc)
        snaps["p0"] = procstat.sample_tree(svc.pid)

    async def end():
        snaps["p1"] = procstat.sample_tree(svc.pid)
        if with_metrics:
            snaps["m1"] = await _fetch_metrics(svc)

    result = loadgen.run_load(svc.host, svc.port, requests, concurrency=args.concurrency,
                              rate=rate, warmup_s=args.warmup, duration_s=args.duration,
                              on_window_start=start, on_window_end=end)
    out = result.summary()
    d = procstat.delta(snaps["p0"], snaps["p1"])
    n = max(result.completed, 1)
    # The /metrics scrapes fall inside the window's CPU; they are counted as requests by nobody,
    # so they are a (small, constant) overestimate of a few ms per window.
    out.update(cpu_s=d["cpu_s"], cpu_ms_per_request=1000.0 * d["cpu_s"] / n,
               cpu_cores=d["cpu_s"] / result.window_s, minflt_per_request=d["minflt"] / n,
               majflt=d["majflt"], same_process_tree=d["same_tree"])
    if with_metrics and snaps.get("m0") is not None and snaps.get("m1") is not None:
        out["stages"] = gateway_metrics.breakdown(snaps["m0"], snaps["m1"], model)
    return out


def rss_mb(svc: Service) -> list[float]:
    values = []
    for pid in svc.workers():
        try:
            values.append(round(procstat.sample(pid).rss_bytes / 2**20, 1))
        except ProcessLookupError:
            continue
    return values


def decode_floor(size: tuple[int, int], reps: int = 5) -> dict:
    """CPU time of decoding the scenario's JPEG alone with Pillow, in this process."""
    from PIL import Image

    jpeg = scenarios.jpeg_for_floor(size)
    n = max(5, int(0.3 / max(_decode_once(jpeg), 1e-4)))
    times = []
    for _ in range(reps):
        t0 = time.process_time()
        for _ in range(n):
            img = Image.open(io.BytesIO(jpeg))
            img.load()
        times.append((time.process_time() - t0) / n)
    return {"cpu_ms": statistics.median(times) * 1000.0, "jpeg_bytes": len(jpeg),
            "size": list(size), "decodes": n * reps}


def _decode_once(jpeg: bytes) -> float:
    from PIL import Image

    t0 = time.process_time()
    Image.open(io.BytesIO(jpeg)).load()
    return time.process_time() - t0


# --------------------------------------------------------------------------- services

def start_backend(args, models: Models, logs: Path) -> Service:
    port = free_port()
    argv = python_module("sanic_app.localserve", "--port", str(port), *models.null_model_flags())
    if args.backend_delay_ms:
        argv += ["--delay_ms", str(args.backend_delay_ms)]
    return Service("backend", argv, port, log_dir=logs).start(timeout=60)


def start_gateway(args, models: Models, backend: str, logs: Path, name: str = "gateway",
                  **env) -> Service:
    port = free_port()
    argv = python_module("sanic_app", "--workers", str(args.workers), "--port", str(port),
                         "--host", "127.0.0.1", "--target", backend,
                         "-s", str(models.image_spec), "-s", str(models.tiny_spec))
    svc = Service(name, argv, port, env=bench_env(**env), log_dir=logs)
    return svc.start(ready=lambda s: tcp_ready(s.host, s.port), timeout=90)


def start_old_design(args, models: Models, backend: str, logs: Path) -> Service:
    port = free_port()
    argv = [sys.executable, "-m", "gunicorn", "-k", "eventlet", "-w", str(args.workers),
            "-b", f"127.0.0.1:{port}", "--worker-connections", "1000", "--timeout", "120",
            "--log-level", "warning", "bench.baselines.old_design:app"]
    env = bench_env(OLD_DESIGN_SPEC=str(models.image_spec), OLD_DESIGN_TARGET=backend,
                    TF_CPP_MIN_LOG_LEVEL="2")
    svc = Service("old_design", argv, port, env=env, log_dir=logs)
    return svc.start(ready=all_workers_answer("/healthz", args.workers), timeout=180)


def start_bare_sanic(args, body_bytes: int, logs: Path) -> Service:
    port = free_port()
    argv = python_module("sanic", "bench.baselines.bare_sanic:app", "--workers",
                         str(args.workers), "--port", str(port), "--host", "127.0.0.1",
                         "--no-access-logs")
    env = bench_env(BARE_SANIC_BODY_BYTES=str(int(body_bytes)))
    return Service("bare_sanic", argv, port, env=env, log_dir=logs).start(
        ready=http_ok("/healthz"), timeout=60)


def direct_grpc(args, models: Models, scenario, backend: str) -> dict:
    model, inputs = models.grpc_inputs(scenario)
    argv = python_module("bench.baselines.direct_grpc", "--target", backend, "--model", model,
                         "--signature", models.signature if scenario.model == "image"
                         else "serving_default", "--concurrency", str(args.concurrency),
                         "--warmup", str(args.warmup), "--duration", str(args.duration))
    for flag in inputs:
        argv += ["--input", flag]
    done = subprocess.run(argv, env=bench_env(), capture_output=True, text=True,
                          timeout=args.warmup + args.duration + 120)
    if done.returncode != 0:
        return {"error": (done.stderr or done.stdout)[-500:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------ running

def run_scenarios(gateway: Service, models: Models, args, results: dict) -> None:
    ctx = models.context(gateway.address)
    for name in args.scenario_list:
        sc = scenarios.SCENARIOS[name]
        entry = results["scenarios"].setdefault(name, {"title": sc.title, "baselines": {}})
        requests = sc.build(ctx)
        first = probe(gateway, requests[0])
        entry["probe"] = first
        if first.get("status") != 200:
            entry["skipped"] = f"probe answered {first.get('status')}: " \
                               f"{first.get('error') or first.get('body', '')[:200]}"
            log(f"{name}: skipped, {entry['skipped']}")
            continue
        model = {"image": models.image_model, "tiny": scenarios.TINY_MODEL,
                 "passthru": scenarios.PASSTHRU_MODEL}[sc.model]
        closed = measure(gateway, requests, args, with_metrics=True, model=model)
        entry["closed"] = closed
        log(f"{name}: closed {closed['rps']:.0f} req/s p50 {closed['latency_ms']['p50']:.2f} ms "
            f"CPU {closed['cpu_ms_per_request']:.3f} ms/req")
        entry["open"] = []
        for frac in args.rate_fractions:
            rate = max(1.0, closed["rps"] * frac)
            point = measure(gateway, requests, args, rate=rate)
            point["fraction"] = frac
            entry["open"].append(point)
            log(f"{name}: open {frac:.2f}× = {rate:.0f}/s p50 {point['latency_ms']['p50']:.2f} "
                f"p99 {point['latency_ms']['p99']:.2f} ms")
            if frac == 0.5:
                entry["half_rate"] = point
        entry["rss_mb_per_worker"] = rss_mb(gateway)


def run_profiles(gateway: Service, models: Models, args, results: dict, out_dir: Path) -> None:
    why = profile.available()
    ctx = models.context(gateway.address)
    for name in [s for s in args.profile_scenarios.split(",") if s in args.scenario_list]:
        if why:
            results["profiles"][name] = {"error": why}
            continue
        requests = scenarios.SCENARIOS[name].build(ctx)
        seconds = max(2.0, args.duration)
        workers = gateway.workers()
        rec = profile.Recorder(workers, out_dir / "profiles", seconds,
                               native=args.profile_native, label=name)
        time.sleep(0.5)  # let py-spy attach before the load starts
        loadgen.run_load(gateway.host, gateway.port, requests, concurrency=args.concurrency,
                         warmup_s=0.0, duration_s=seconds + 0.5)
        raws = rec.wait(timeout=seconds + 30)
        if not raws:
            spy_logs = sorted((out_dir / "profiles").glob(f"{name}-*.py-spy.log"))
            detail = spy_logs[0].read_text(errors="replace")[-300:].strip() if spy_logs else ""
            results["profiles"][name] = {"error": f"py-spy recorded nothing ({detail}); "
                                                  "see bench/README.md about ptrace"}
            continue
        prof = profile.render(raws, out_dir / "profiles", name)
        for key in ("svg", "speedscope"):
            if prof.get(key):
                prof[key] = f"profiles/{prof[key]}"
        for w in prof["workers"]:
            w["svg"], w["speedscope"] = f"profiles/{w['svg']}", f"profiles/{w['speedscope']}"
        results["profiles"][name] = prof
        log(f"{name}: profiled {len(raws)} workers -> {prof.get('svg')}")


def run_baselines(args, models: Models, backend: str, logs: Path, results: dict,
                  stack: ExitStack) -> None:
    want = args.baseline_set
    ran = [n for n in args.scenario_list if results["scenarios"].get(n, {}).get("closed")]
    if "floor" in want:
        for name in ran:
            sc = scenarios.SCENARIOS[name]
            if sc.decode_floor:
                results["scenarios"][name]["baselines"]["decode_floor"] = decode_floor(sc.decode_floor)
    if "grpc" in want:
        for name in ran:
            res = direct_grpc(args, models, scenarios.SCENARIOS[name], backend)
            results["scenarios"][name]["baselines"]["direct_grpc"] = res
            log(f"{name}: direct gRPC {res.get('client_cpu_ms_per_call', res.get('error'))}")
    if "purepy" in want:
        _baseline_service(
            "purepy", lambda: start_gateway(args, models, backend, logs, name="gateway_purepy",
                                            FASTPACK_NO_EXTENSIONS="1"),
            ran, models, args, results, stack)
    if "bare" in want:
        for name in ran:
            size = results["scenarios"][name]["closed"]["response_bytes_per_request"]
            _baseline_service("bare_sanic", lambda: start_bare_sanic(args, size, logs), [name],
                              models, args, results, stack)
    if "old" in want:
        olds = [n for n in ran if scenarios.SCENARIOS[n].old_design]
        if olds:
            _baseline_service("old_design", lambda: start_old_design(args, models, backend, logs),
                              olds, models, args, results, stack)


def _baseline_service(key: str, starter, names: list[str], models: Models, args, results: dict,
                      stack: ExitStack) -> None:
    if not names:
        return
    try:
        svc = stack.enter_context(starter())
    except Exception as exc:
        for name in names:
            results["scenarios"][name]["baselines"][key] = {"error": str(exc)[-400:]}
        log(f"{key}: could not start: {str(exc)[-400:]}")
        return
    try:
        ctx = models.context(svc.address)
        for name in names:
            requests = scenarios.SCENARIOS[name].build(ctx)
            first = probe(svc, requests[0])
            if first.get("status") != 200:
                results["scenarios"][name]["baselines"][key] = {
                    "error": f"probe answered {first.get('status')}: "
                             f"{first.get('error') or first.get('body', '')[:200]}"}
                continue
            res = measure(svc, requests, args)
            res["rss_mb_per_worker"] = rss_mb(svc)
            results["scenarios"][name]["baselines"][key] = res
            log(f"{name}: {key} {res['rps']:.0f} req/s, CPU {res['cpu_ms_per_request']:.3f} ms/req")
    finally:
        svc.stop()


# ------------------------------------------------------------------------------ targets

def targets(results: dict) -> list[dict]:
    out = []
    scs = results["scenarios"]

    def cpu(name):
        return ((scs.get(name) or {}).get("closed") or {}).get("cpu_ms_per_request")

    def base(name, key, field):
        entry = ((scs.get(name) or {}).get("baselines") or {}).get(key) or {}
        return entry.get(field)

    def add(name, value, limit, cmp="<="):
        ok = None if value is None else (value <= limit if cmp == "<=" else value < limit)
        out.append({"name": name, "value": value, "limit": f"{cmp} {limit}", "ok": ok})

    mine, old = cpu("jpeg_500x375"), base("jpeg_500x375", "old_design", "cpu_ms_per_request")
    add("JPEG 500x375: gateway CPU/req ÷ old design's", mine / old if mine and old else None, 0.25)
    floor = base("jpeg_500x375", "decode_floor", "cpu_ms")
    add("JPEG 500x375: gateway CPU/req ÷ JPEG decode alone", mine / floor if mine and floor else None,
        2.5)
    mine_t, grpc_t = cpu("tensor_f32x8"), base("tensor_f32x8", "direct_grpc",
                                                "client_cpu_ms_per_call")
    add("f32[1,8]: gateway CPU/req ÷ direct gRPC client CPU/call",
        mine_t / grpc_t if mine_t and grpc_t else None, 1.5)
    rss = [v for sc in scs.values() for v in (sc.get("rss_mb_per_worker") or [])]
    add("RSS per gateway worker after the run, MB (max)", max(rss) if rss else None, 150, "<")
    for name, sc in scs.items():
        half = sc.get("half_rate")
        if half and half["latency_ms"]["p50"]:
            add(f"{name}: p99 ÷ p50 at half max throughput",
                half["latency_ms"]["p99"] / half["latency_ms"]["p50"], 3)
    return out


# --------------------------------------------------------------------------------- main

def log(msg: str) -> None:
    print(f"[run_load {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def main(argv=None) -> int:
    args = parse_args(argv)
    out_dir = Path(args.out or REPO / "bench" / "results" / time.strftime("%Y%m%d-%H%M%S"))
    out_dir.mkdir(parents=True, exist_ok=True)
    logs = out_dir / "logs"
    logs.mkdir(exist_ok=True)
    t_start = time.time()
    results: dict = {
        "meta": {
            "machine": machine(),
            "command": "python bench/run_load.py " + " ".join(shlex.quote(a) for a in (
                argv if argv is not None else sys.argv[1:])),
            "started": time.strftime("%Y-%m-%d %H:%M:%S"),
            "loadavg_before": " ".join(f"{v:.2f}" for v in os.getloadavg()),
            "gateway_workers": args.workers, "concurrency": args.concurrency,
            "duration_s": args.duration, "warmup_s": args.warmup, "rates": args.rates,
            "generator": f"bench/loadgen.py (asyncio{' + uvloop' if loadgen.uvloop else ''}, "
                         "httptools, keep-alive)",
        },
        "scenarios": {}, "profiles": {}, "notes": [],
    }
    try:
        import fastpack
        results["meta"]["using_extension"] = fastpack.USING_EXTENSION
    except Exception as exc:  # the gateway would fail too; the probe will say so
        results["meta"]["using_extension"] = f"import failed: {exc}"
    with tempfile.TemporaryDirectory(prefix="run_load-") as tmp, ExitStack() as stack:
        models = Models(Path(args.image_spec), Path(tmp))
        if args.target:
            backend_addr = args.target
            results["meta"]["backend"] = f"external {backend_addr}"
        else:
            backend = stack.enter_context(start_backend(args, models, logs))
            backend_addr = backend.address
            results["meta"]["backend"] = f"embedded null models (pid {backend.pid})"
        models.write_specs(backend_addr)
        log(f"backend at {backend_addr}")
        gateway = stack.enter_context(start_gateway(args, models, backend_addr, logs))
        log(f"gateway pid {gateway.pid} workers {gateway.workers()} on {gateway.address}")
        run_scenarios(gateway, models, args, results)
        if args.profile:
            run_profiles(gateway, models, args, results, out_dir)
        gateway.stop()
        run_baselines(args, models, backend_addr, logs, results, stack)
    results["meta"]["loadavg_after"] = " ".join(f"{v:.2f}" for v in os.getloadavg())
    results["meta"]["elapsed_s"] = time.time() - t_start
    results["targets"] = targets(results)
    for name, sc in results["scenarios"].items():
        gen = (sc.get("closed") or {}).get("generator_cpu_share")
        if gen and gen > 0.6:
            results["notes"].append(f"{name}: the load generator used {gen:.0%} of a core; on 2 "
                                    "cores the gateway had less than the whole machine")
        if sc.get("closed") and not sc["closed"].get("same_process_tree", True):
            results["notes"].append(f"{name}: a gateway process appeared or vanished during the "
                                    "window; its CPU figure may be off")
    paths = report.write(results, out_dir)
    log("report: " + ", ".join(str(p) for p in paths.values()))
    print(paths["markdown"].read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
