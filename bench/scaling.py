"""How the gateway's cost grows: one short closed-loop window per point along four rows.

- batch: 1 to 256 (the default batch limit) different 500x375 JPEGs in one request (and memory
  per worker at each size);
- pixels: one JPEG of 0.1 to 12 megapixels (4:3);
- concurrency: the 500x375 JPEG at 1 to 256 connections;
- workers: the 500x375 JPEG with 1 to the machine's cores worker processes (a fresh gateway each).

Rows are swept ``--scaling-repeat`` times, one point after the other, so every point has as many
windows as the others, spread over the run (outside load hits them alike); the report gives the
medians and the fits in bench/fits.py. The gateway used here is started with limits wide enough
for the largest request (recorded in the results), and run_load.py's backend serves it.
"""
from __future__ import annotations

import math
import os
import statistics
import time
from types import SimpleNamespace
from typing import Callable

from bench import contenders, procstat, scenarios
from bench.measure import measure, probe
from bench.services import Service

BATCHES = (1, 2, 4, 8, 16, 32, 64, 128, 256)
MEGAPIXELS = (0.1, 0.5, 1, 2, 4, 8, 12)
CONNECTIONS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
ROW_NAMES = ("batch", "pixels", "concurrency", "workers")
MIN_REQUESTS = 40  # a window is stretched (up to 4x) until it should hold this many answers


def size_for(megapixels: float) -> tuple[int, int]:
    """A 4:3 image of about ``megapixels`` (even sides)."""
    width = 2 * round(math.sqrt(megapixels * 1e6 * 4 / 3) / 2)
    return width, 2 * round(width * 3 / 8)


def row_values(args) -> dict[str, list]:
    cores = os.cpu_count() or 1
    return {"batch": list(BATCHES), "pixels": list(MEGAPIXELS),
            "concurrency": list(CONNECTIONS), "workers": list(range(1, cores + 1))}


def batch_request(ctx: scenarios.Context, n: int) -> list[bytes]:
    return scenarios._b64_images(ctx, [scenarios.photo_jpeg(500, 375, seed=s) for s in range(n)])


def pixels_request(ctx: scenarios.Context, megapixels: float) -> list[bytes]:
    return scenarios._b64_images(ctx, [scenarios.photo_jpeg(*size_for(megapixels))])


def gateway_limits(ctx: scenarios.Context) -> tuple[list[str], dict]:
    """Flags for the largest request of the rows, and what they are against the defaults."""
    from sanic_app.config import Settings

    defaults = Settings()
    body = max(len(batch_request(ctx, max(BATCHES))[0]), len(pixels_request(ctx, max(MEGAPIXELS))[0]))
    pixels = max(w * h for w, h in map(size_for, MEGAPIXELS))
    flags, notes = [], {}
    for flag, default, need in (("--max-body-bytes", defaults.max_body_bytes, 2 * body),
                                ("--max-image-pixels", defaults.max_image_pixels, 2 * pixels),
                                ("--max-batch", defaults.max_batch, max(BATCHES))):
        value = max(default, need)
        flags += [flag, str(value)]
        notes[flag] = {"default": default, "largest_request": need // 2 if flag != "--max-batch"
                       else need, "used": value}
    return flags, notes


def _trim(run: dict) -> dict:
    """What the report needs of one window."""
    lat = run.get("latency_ms") or {}
    return {"rps": run.get("rps"), "requests": run.get("requests"),
            "cpu_ms_per_request": run.get("cpu_ms_per_request"), "p50": lat.get("p50"),
            "minflt_per_request": run.get("minflt_per_request"),
            "p99": lat.get("p99"), "errors": run.get("errors") or {},
            "other_cores": (run.get("machine") or {}).get("other_cores"),
            "generator_cpu_share": run.get("generator_cpu_share")}


def _window(svc: Service, requests: list[bytes], args, concurrency: int, model: str) -> dict:
    """One closed-loop window, stretched for slow points so that it holds enough answers."""
    first = probe(svc, requests[0])
    if first.get("status") != 200:
        return {"error": f"probe answered {first.get('status')}: "
                         f"{first.get('error') or first.get('body', '')[:200]}"}
    parallel = max(1, min(concurrency, len(svc.workers())))
    # enough answers in all, and each connection several round trips (at 256 connections a
    # round trip is 256 services long)
    wanted = max(MIN_REQUESTS, 5 * concurrency) * first["ms"] / 1000.0 / parallel
    duration = min(max(args.scaling_duration, wanted), 4 * args.scaling_duration)
    window = SimpleNamespace(concurrency=concurrency, warmup=args.scaling_warmup,
                             duration=duration)
    out = _trim(measure(svc, requests, window, model=model))
    out["duration_s"], out["body_bytes"] = duration, len(requests[0])
    return out


def _memory(svc: Service) -> dict:
    rss, peak = [], []
    for pid in svc.workers():
        try:
            rss.append(round(procstat.sample(pid).rss_bytes / 2**20, 1))
            peak.append(round(procstat.peak_rss_bytes(pid) / 2**20, 1))
        except (ProcessLookupError, OSError):
            continue
    return {"rss_mb": rss, "peak_rss_mb": peak}


def _reset_peaks(svc: Service) -> bool:
    return all([procstat.reset_peak_rss(pid) for pid in svc.workers()])


def summarise(points: list[dict]) -> None:
    """Medians over each point's windows, in place."""
    for pt in points:
        good = [r for r in pt["reps"] if not r.get("error")]
        for field in ("cpu_ms_per_request", "p50", "p99", "rps", "minflt_per_request"):
            values = [r[field] for r in good if r.get(field) is not None]
            pt[field] = statistics.median(values) if values else None
        for field in ("rss_mb", "peak_rss_mb"):
            values = [max(r[field]) for r in good if r.get(field)]
            if values:
                pt[field] = statistics.median(values)
        if not good and pt["reps"]:
            pt["error"] = pt["reps"][0]["error"]


def run(args, models, backend: str, logs, stack, results: dict,
        log: Callable[[str], None] = print) -> dict:
    """Sweep the rows named in ``args.scaling_rows``; results go to ``results["scaling"]``."""
    t0 = time.time()
    ctx0 = models.context("127.0.0.1")
    flags, limits = gateway_limits(ctx0)
    rows_wanted = [r for r in args.scaling_rows.split(",") if r]
    values = row_values(args)
    gateway = stack.enter_context(contenders.start_gateway(
        args, models, backend, logs, name="gateway_scaling", extra=tuple(flags)))
    ctx = models.context(gateway.address)
    model = models.image_model
    out = results.setdefault("scaling", {})
    out["meta"] = {
        "limits": limits, "gateway_flags": flags, "workers": args.workers,
        "concurrency": args.scaling_concurrency,
        "workers_concurrency": args.scaling_workers_concurrency,
        "duration_s": args.scaling_duration, "warmup_s": args.scaling_warmup,
        "repeat": args.scaling_repeat, "cores": os.cpu_count(),
        "peak_reset": _reset_peaks(gateway),
    }
    rows = out.setdefault("rows", {})
    builders = {"batch": lambda v, c: batch_request(c, v),
                "pixels": lambda v, c: pixels_request(c, v),
                "concurrency": lambda v, c: scenarios.jpeg_small(c),
                "workers": lambda v, c: scenarios.jpeg_small(c)}
    for name in rows_wanted:
        rows[name] = {"points": [{"x": v, "reps": []} for v in values[name]]}
    for rep in range(args.scaling_repeat):
        for name in rows_wanted:
            for pt in rows[name]["points"]:
                v = pt["x"]
                if name == "workers":
                    with contenders.start_gateway(args, models, backend, logs,
                                                  name=f"gateway_w{v}", workers=v,
                                                  extra=tuple(flags)) as svc:
                        w = _window(svc, builders[name](v, models.context(svc.address)), args,
                                    args.scaling_workers_concurrency, model)
                else:
                    conc = v if name == "concurrency" else args.scaling_concurrency
                    if name == "batch":
                        _reset_peaks(gateway)
                    w = _window(gateway, builders[name](v, ctx), args, conc, model)
                    if name == "batch" and not w.get("error"):
                        w.update(_memory(gateway))
                pt["reps"].append(w)
                log(f"scaling [{rep + 1}/{args.scaling_repeat}] {name}={v}: "
                    + (w["error"] if w.get("error") else
                       f"{w['rps']:.0f} req/s, CPU {w['cpu_ms_per_request']:.2f} ms/req, "
                       f"p50 {w['p50']:.1f} p99 {w['p99']:.1f} ms"))
            if name == "batch":  # what the workers keep once the big batches are over
                time.sleep(args.scaling_idle_s)
                rows[name].setdefault("idle", []).append(_memory(gateway)["rss_mb"])
    for name in rows_wanted:
        summarise(rows[name]["points"])
    out["meta"]["elapsed_s"] = time.time() - t0
    return out
