"""One command for a load test: backend, gateway, load over real HTTP, baselines, report.

    python bench/run_load.py                       # everything, ~15 minutes on 2 cores
    python bench/run_load.py --scenarios jpeg_500x375,tensor_f32x8 --duration 5 --profile
    python bench/run_load.py --target 10.0.0.5:8500 --baselines none   # a real TF Serving
    python bench/run_load.py --scenarios jpeg_500x375 --baselines kserve,kserve_lean --sidecar

Starts the embedded backend serving null models shaped like the scenarios need (unless
--target), the gateway with --workers N, drives each scenario closed-loop (capacity) then
open-loop at fractions of that capacity (latency without coordinated omission), samples the
gateway's processes in /proc and its /metrics around each measured window, runs the baselines
in the same run, and writes results.json, report.md and latency.png under --out. Everything
it started is stopped on the way out, also on Ctrl-C.
"""
from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` and `sanic_app` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import contenders, loadgen, profile, report, scaling, scenarios, sidecar  # noqa: E402
from bench import measure as measure_module  # noqa: E402
from bench.measure import decode_floor, measure, median_run, probe, rss_mb, with_header  # noqa: E402
from bench.served_models import Models  # noqa: E402
from bench.services import REPO, Service  # noqa: E402
from bench.targets import targets  # noqa: E402

IMAGE_SPEC = REPO / "specs" / "inceptionv3.json"
BASELINES = ("old", "kserve", "kserve_lean", "purepy", "bare", "grpc", "floor")
KSERVE_VENV = os.environ.get("KSERVE_VENV", "/work/venvs/kserve")


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
    p.add_argument("--warmup", type=float, default=1.0, help="seconds before each window")
    p.add_argument("--duration", type=float, default=5.0, help="seconds of each measured window")
    p.add_argument("--repeat", type=int, default=3,
                   help="closed-loop windows per contender, interleaved (gateway, baselines, "
                        "gateway...); the report gives the median")
    p.add_argument("--baselines", default=",".join(BASELINES),
                   help=f"comma list of {', '.join(BASELINES)}, or 'none'")
    p.add_argument("--kserve-venv", default=KSERVE_VENV,
                   help="venv of the KServe peer (bench/baselines/kserve_env.sh creates it; "
                        "without it the kserve baselines are skipped with a note)")
    p.add_argument("--sidecar", action="store_true",
                   help="also run a second gateway that reaches the same backend over a Unix "
                        "socket (the Kubernetes sidecar hop), on the image scenarios, its windows "
                        "interleaved with the rest; the peers stay on TCP. Needs the embedded "
                        "backend (no --target)")
    p.add_argument("--backend-delay-ms", type=float, default=0.0,
                   help="artificial latency of the null backend")
    p.add_argument("--profile", action="store_true",
                   help="py-spy every gateway worker during an extra run of each profiled scenario")
    p.add_argument("--profile-scenarios", default="jpeg_500x375,tensor_f32x8")
    p.add_argument("--profile-native", action="store_true", help="py-spy --native (C frames)")
    p.add_argument("--scaling", action="store_true",
                   help="also sweep how cost grows (bench/scaling.py): batch size, image size, "
                        "connections, worker processes; ~6 minutes on 2 cores")
    p.add_argument("--scaling-rows", default=",".join(scaling.ROW_NAMES))
    p.add_argument("--scaling-duration", type=float, default=2.0,
                   help="seconds per scaling window (stretched up to 4x for slow points)")
    p.add_argument("--scaling-warmup", type=float, default=0.5)
    p.add_argument("--scaling-repeat", type=int, default=2, help="sweeps of every row")
    p.add_argument("--scaling-concurrency", type=int, default=2,
                   help="connections for the batch and image-size rows")
    p.add_argument("--scaling-workers-concurrency", type=int, default=32,
                   help="connections for the worker-count row")
    p.add_argument("--scaling-idle-s", type=float, default=3.0,
                   help="idle seconds before reading RSS after the batch row")
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
    if args.sidecar and args.target:
        p.error("--sidecar serves the embedded backend on a Unix socket; leave out --target")
    bad_rows = set(r for r in args.scaling_rows.split(",") if r) - set(scaling.ROW_NAMES)
    if bad_rows:
        p.error(f"unknown scaling row(s) {sorted(bad_rows)}; known: {scaling.ROW_NAMES}")
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


# ------------------------------------------------------------------------------ running

def log(msg: str) -> None:
    print(f"[run_load {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def start_contenders(args, models: Models, backend: str, logs: Path, stack: ExitStack,
                     results: dict, socket_path: Path | None = None) -> dict[str, Service]:
    """Every HTTP service to measure, all up at once so their windows can be interleaved."""
    wanted = {"gateway": lambda: contenders.start_gateway(args, models, backend, logs)}
    if "purepy" in args.baseline_set:
        wanted["purepy"] = lambda: contenders.start_gateway(
            args, models, backend, logs, name="gateway_purepy", FASTPACK_NO_EXTENSIONS="1")
    if "bare" in args.baseline_set:
        wanted["bare_sanic"] = lambda: contenders.start_bare_sanic(args, logs)
    if "old" in args.baseline_set and any(scenarios.SCENARIOS[n].old_design
                                          for n in args.scenario_list):
        wanted["old_design"] = lambda: contenders.start_old_design(args, models, backend, logs)
    for key in contenders.KSERVE_VARIANTS:
        if key in args.baseline_set and any(scenarios.SCENARIOS[n].kserve
                                            for n in args.scenario_list):
            why = contenders.kserve_missing(args)
            if why:
                if why not in results["notes"]:
                    results["notes"].append(why)
                    log(why)
                continue
            wanted[key] = (lambda key=key: contenders.start_kserve(args, models, backend, logs,
                                                                   key))
    # last in each round, so the like-for-like windows keep the order they have without it
    if socket_path and any(sidecar.applies(scenarios.SCENARIOS[n]) for n in args.scenario_list):
        wanted[sidecar.KEY] = lambda: contenders.start_sidecar(args, models, socket_path, logs)
    services = {}
    for key, start in wanted.items():
        try:
            services[key] = stack.enter_context(start())
            results["meta"].setdefault("rss_mb_per_worker_at_start", {})[key] = rss_mb(
                services[key])
            log(f"{key}: pid {services[key].pid}, workers {services[key].workers()}, "
                f"{services[key].address}")
        except Exception as exc:
            if key == "gateway":
                raise
            results["notes"].append(f"{key} could not start: {str(exc)[-300:]}")
            log(f"{key}: could not start: {str(exc)[-300:]}")
    return services


def requests_for(key: str, svc: Service, models: Models, sc: scenarios.Scenario,
                 answer_bytes: int) -> list[bytes]:
    requests = sc.build(models.context(svc.address))
    if key == "bare_sanic":  # answer as many bytes as the gateway did
        requests = [with_header(r, "X-Body-Bytes", str(answer_bytes)) for r in requests]
    return requests


def run_scenario(name: str, services: dict[str, Service], models: Models, backend: str,
                 args, results: dict) -> None:
    sc = scenarios.SCENARIOS[name]
    entry = results["scenarios"].setdefault(name, {"title": sc.title, "baselines": {}})
    gateway = services["gateway"]
    first = probe(gateway, sc.build(models.context(gateway.address))[0])
    entry["probe"] = first
    if first.get("status") != 200:
        entry["skipped"] = (f"probe answered {first.get('status')}: "
                            f"{first.get('error') or first.get('body', '')[:200]}")
        log(f"{name}: skipped, {entry['skipped']}")
        return
    model = {"image": models.image_model, "tiny": scenarios.TINY_MODEL,
             "passthru": scenarios.PASSTHRU_MODEL}[sc.model]
    active = {}
    for key, svc in services.items():
        if (key == "old_design" and not sc.old_design) or (
                key in contenders.KSERVE_VARIANTS and not sc.kserve) or (
                key == sidecar.KEY and not sidecar.applies(sc)):
            continue
        requests = requests_for(key, svc, models, sc, first["bytes"])
        if key != "gateway":
            check = probe(svc, requests[0])
            if check.get("status") != 200:
                failed = {"error": f"probe answered {check.get('status')}: "
                                   f"{check.get('error') or check.get('body', '')[:200]}"}
                if key == sidecar.KEY:
                    entry[key] = failed
                else:
                    entry["baselines"][key] = failed
                continue
        active[key] = requests
    runs: dict[str, list] = {key: [] for key in active}
    grpc_runs = []
    for rep in range(args.repeat):
        for key, requests in active.items():
            run = measure(services[key], requests, args,
                          with_metrics=key in ("gateway", sidecar.KEY), model=model)
            runs[key].append(run)
            log(f"{name} [{rep + 1}/{args.repeat}] {key}: {run['rps']:.0f} req/s, p50 "
                f"{run['latency_ms']['p50']:.2f} ms, CPU {run['cpu_ms_per_request']:.3f} ms/req")
        if "grpc" in args.baseline_set:
            g = contenders.direct_grpc(args, models, sc, backend)
            grpc_runs.append(g)
            log(f"{name} [{rep + 1}/{args.repeat}] direct_grpc: "
                f"{g.get('client_cpu_ms_per_call', g.get('error'))} ms/call")
    entry["closed"] = median_run(runs.pop("gateway"))
    gateways = {"gateway": entry}  # the open loop below runs on each, fractions interleaved
    if sidecar.KEY in runs:
        entry[sidecar.KEY] = {"closed": median_run(runs.pop(sidecar.KEY))}
        gateways[sidecar.KEY] = entry[sidecar.KEY]
    for key, key_runs in runs.items():
        entry["baselines"][key] = median_run(key_runs)
        entry["baselines"][key]["rss_mb_per_worker"] = rss_mb(services[key])
    good = [g for g in grpc_runs if not g.get("error")]
    if good:
        entry["baselines"]["direct_grpc"] = median_run(good, "client_cpu_ms_per_call")
    elif grpc_runs:
        entry["baselines"]["direct_grpc"] = grpc_runs[0]
    if "floor" in args.baseline_set and sc.decode_floor:
        entry["baselines"]["decode_floor"] = decode_floor(sc.decode_floor)
    for side in gateways.values():
        side["open"] = []
    for frac in args.rate_fractions:
        for key, side in gateways.items():
            rate = max(1.0, side["closed"]["rps"] * frac)
            point = measure(services[key], active[key], args, rate=rate, with_metrics=True,
                            model=model)
            point["fraction"] = frac
            side["open"].append(point)
            log(f"{name}: {key} open loop {frac:.2f}x = {rate:.0f}/s: p50 "
                f"{point['latency_ms']['p50']:.2f} p99 {point['latency_ms']['p99']:.2f} ms")
            if frac == 0.5:
                side["half_rate"] = point
    for key, side in gateways.items():
        side["rss_mb_per_worker"] = rss_mb(services[key])


def run_profiles(gateway: Service, models: Models, args, results: dict, out_dir: Path) -> None:
    why = profile.available()
    ctx = models.context(gateway.address)
    for name in [s for s in args.profile_scenarios.split(",") if s in args.scenario_list]:
        if why:
            results["profiles"][name] = {"error": why}
            continue
        requests = scenarios.SCENARIOS[name].build(ctx)
        seconds = max(2.0, args.duration)
        rec = profile.Recorder(gateway.workers(), out_dir / "profiles", seconds,
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
            "repeat": args.repeat,
            "generator": f"bench/loadgen.py (asyncio{' + uvloop' if loadgen.uvloop else ''}, "
                         "httptools, keep-alive)",
        },
        "scenarios": {}, "profiles": {}, "notes": [],
    }
    try:
        import fastpack
        results["meta"]["using_extension"] = fastpack.USING_EXTENSION
    except Exception as exc:  # the gateway would fail too; its probe will say so
        results["meta"]["using_extension"] = f"import failed: {exc}"
    with tempfile.TemporaryDirectory(prefix="run_load-") as tmp, ExitStack() as stack:
        models = Models(Path(args.image_spec), Path(tmp))
        socket_path = None
        if args.sidecar:
            socket_path = Path(stack.enter_context(contenders.socket_folder())) / "tfserving.sock"
            results["meta"]["sidecar"] = f"unix:{socket_path}"
        if args.target:
            backend_addr = args.target
            results["meta"]["backend"] = f"external {backend_addr}"
        else:
            backend = stack.enter_context(contenders.start_backend(args, models, logs,
                                                                   socket_path))
            backend_addr = backend.address
            results["meta"]["backend"] = f"embedded null models (pid {backend.pid})"
            measure_module.ALSO_WATCHED["backend"] = backend.pid
        models.write_specs(backend_addr)
        log(f"backend at {backend_addr}")
        services = start_contenders(args, models, backend_addr, logs, stack, results,
                                    socket_path)
        for name in args.scenario_list:
            run_scenario(name, services, models, backend_addr, args, results)
        if args.scaling:
            scaling.run(args, models, backend_addr, logs, stack, results, log=log)
        if args.profile:
            run_profiles(services["gateway"], models, args, results, out_dir)
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
