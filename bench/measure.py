"""One measured window against a running service, and the numbers around it.

CPU time and page faults come from /proc for the service's whole process tree (main process and
workers) over exactly the window; the gateway's own per-stage timings come from two /metrics
scrapes at the window's edges.
"""
from __future__ import annotations

import asyncio
import io
import statistics
import time
from typing import Optional

from bench import gateway_metrics, loadgen, procstat, scenarios
from bench.services import Service


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
    try:
        t0 = time.perf_counter()
        status, body = loadgen.fetch_blocking(svc.host, svc.port, request, 60.0)
        return {"status": status, "ms": (time.perf_counter() - t0) * 1000.0,
                "bytes": len(body), "body": body[:300].decode("utf-8", "replace")}
    except Exception as exc:  # the run goes on with the other scenarios
        return {"status": None, "error": f"{type(exc).__name__}: {exc}"}


# Processes whose CPU is accounted apart in every window (the backend): name -> pid.
ALSO_WATCHED: dict[str, int] = {}


def measure(svc: Service, requests: list[bytes], args, *, rate: Optional[float] = None,
            with_metrics: bool = False, model: Optional[str] = None) -> dict:
    """One load window against ``svc``: latency, throughput and the service's CPU per request.

    Also how busy the machine was meanwhile: the cores used by the service, the generator,
    the watched processes (backend) and everything else ("other_cores": the noise).
    """
    snaps: dict = {}

    async def start():
        if with_metrics:
            snaps["m0"] = await _fetch_metrics(svc)
        snaps["w0"] = {k: procstat.sample_tree(pid) for k, pid in ALSO_WATCHED.items()}
        snaps["busy0"] = procstat.machine_busy_s()
        snaps["p0"] = procstat.sample_tree(svc.pid)
        snaps["t0"] = procstat.thread_counters(list(snaps["p0"]))

    async def end():
        snaps["p1"] = procstat.sample_tree(svc.pid)
        snaps["t1"] = procstat.thread_counters(list(snaps["p1"]))
        snaps["busy1"] = procstat.machine_busy_s()
        snaps["w1"] = {k: procstat.sample_tree(pid) for k, pid in ALSO_WATCHED.items()}
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
               sys_ms_per_request=1000.0 * d["sys_s"] / n,
               cpu_cores=d["cpu_s"] / result.window_s, minflt_per_request=d["minflt"] / n,
               majflt=d["majflt"], same_process_tree=d["same_tree"])
    threads = {}
    for name, (cpu, sys_, flt) in snaps["t1"].items():
        cpu0, sys0, flt0 = snaps["t0"].get(name, (0.0, 0.0, 0.0))
        if cpu - cpu0 > 0 or flt - flt0 > 0:
            threads[name] = {"cpu_ms_per_request": 1000.0 * (cpu - cpu0) / n,
                             "sys_ms_per_request": 1000.0 * (sys_ - sys0) / n,
                             "minflt_per_request": (flt - flt0) / n}
    out["threads"] = dict(sorted(threads.items(), key=lambda kv: -kv[1]["cpu_ms_per_request"]))
    window = result.window_s or 1.0
    watched = {k: procstat.delta(snaps["w0"][k], snaps["w1"][k])["cpu_s"] / window
               for k in ALSO_WATCHED}
    busy = (snaps["busy1"] - snaps["busy0"]) / window
    out["machine"] = {
        "busy_cores": busy,
        "service_cores": d["cpu_s"] / window,
        "generator_cores": result.generator_cpu_s / window,
        **{f"{k}_cores": v for k, v in watched.items()},
        "other_cores": max(0.0, busy - d["cpu_s"] / window - result.generator_cpu_s / window
                           - sum(watched.values())),
    }
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


def median_run(runs: list[dict], key: str = "cpu_ms_per_request") -> dict:
    """The run whose ``key`` is the median (latencies stay those of one real window), with every
    repetition's throughput and CPU figure attached, so noise is visible next to the figure."""
    ranked = sorted(runs, key=lambda r: r.get(key) or 0.0)
    chosen = dict(ranked[(len(ranked) - 1) // 2])
    chosen["repetitions"] = [{"rps": r.get("rps"), key: r.get(key),
                              "p50": (r.get("latency_ms") or {}).get("p50"),
                              "p99": (r.get("latency_ms") or {}).get("p99"),
                              "generator_cpu_share": r.get("generator_cpu_share")} for r in runs]
    return chosen


def with_header(request: bytes, name: str, value: str) -> bytes:
    """The same pre-encoded request with one more header after the request line."""
    line_end = request.index(b"\r\n")
    return request[:line_end + 2] + f"{name}: {value}\r\n".encode("latin-1") + request[line_end + 2:]
