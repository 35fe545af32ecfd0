"""Turn a run's results dict into results.json, report.md and a latency/throughput PNG.

Kept apart from the runner so a saved results.json can be re-rendered
(``python -m bench.report results.json``) after a change to the tables.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from bench import report_scaling, sidecar
from bench.report_peers import kserve_table, ratio_text


def _f(value, fmt="{:.2f}", none="–"):
    if value is None:
        return none
    try:
        return fmt.format(value)
    except (TypeError, ValueError):
        return str(value)


def _errors(summary: dict) -> str:
    errs = summary.get("errors") or {}
    return ", ".join(f"{k}×{v}" for k, v in sorted(errs.items())) or "0"


def _ratio(value, base):
    if value is None or not base:
        return None
    return value / base


def scenario_table(results: dict) -> list[str]:
    lines = [
        "| scenario | req/s | p50 ms | p90 ms | p99 ms | max ms | errors | gateway CPU ms/req (kernel) "
        "| minor faults/req | RSS/worker MB | p99/p50 @½ max | gen. CPU | backend CPU | other load |",
        "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, sc in results["scenarios"].items():
        lines.append(_gateway_row(name, sc))
        side = sc.get(sidecar.KEY)
        if side:  # beside the TCP row, never instead of it
            label = f"{name}, {sidecar.LABEL}"
            lines.append(f"| {label} | failed: {side['error'][:120]} |" + " |" * 12
                         if side.get("error") else _gateway_row(label, sidecar.view(sc)))
    return lines


def _gateway_row(name: str, sc: dict) -> str:
    c = sc.get("closed")
    if not c:
        return f"| {name} | {sc.get('skipped', 'not run')} |" + " |" * 12
    lat = c["latency_ms"]
    half = sc.get("half_rate")
    ratio = None
    if half and half["latency_ms"]["p50"]:
        ratio = half["latency_ms"]["p99"] / half["latency_ms"]["p50"]
    rss = max(sc.get("rss_mb_per_worker") or [0]) or None
    m = c.get("machine") or {}
    return (
        f"| {name} | {_f(c['rps'], '{:.0f}')} | {_f(lat['p50'])} | {_f(lat['p90'])} "
        f"| {_f(lat['p99'])} | {_f(lat['max'], '{:.1f}')} | {_errors(c)} "
        f"| {_f(c.get('cpu_ms_per_request'), '{:.3f}')} ({_f(c.get('sys_ms_per_request'), '{:.3f}')}) "
        f"| {_f(c.get('minflt_per_request'), '{:.1f}')} "
        f"| {_f(rss, '{:.0f}')} | {_f(ratio)} | {_f(c.get('generator_cpu_share'), '{:.0%}')} "
        f"| {_f(m.get('backend_cores'), '{:.0%}')} | {_f(m.get('other_cores'), '{:.0%}')} |")


def sidecar_lines(results: dict) -> list[str]:
    """The sidecar gateway ÷ the TCP gateway, per scenario both ran (empty without --sidecar)."""
    lines = []
    for name, sc in results["scenarios"].items():
        ratios = sidecar.against_tcp(sc)
        if ratios:
            cpu, p50, p99 = (ratio_text(ratios[k]) for k in ("cpu", "p50", "p99"))
            lines.append(f"- {name}: CPU/req {cpu}, p50 {p50}, p99 {p99} (closed loop)")
    if not lines:
        return []
    return ["", f"{sidecar.LABEL} ÷ gateway over TCP, same run, windows interleaved (range of the "
            "per-repetition ratios in brackets):", "", *lines]


def baseline_table(results: dict) -> list[str]:
    lines = [
        "| scenario | gateway CPU ms/req | old design CPU ms/req (ratio) | pure-Python fastpack "
        "(ratio) | bare Sanic (ratio) | direct gRPC client ms/call (ratio) | JPEG decode alone ms (ratio) "
        "| KServe peer (ratio) | KServe lean (ratio) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, sc in results["scenarios"].items():
        c = sc.get("closed") or {}
        mine = c.get("cpu_ms_per_request")
        b = sc.get("baselines", {})

        def cell(key, field="cpu_ms_per_request"):
            entry = b.get(key)
            if not entry:
                return "–"
            if entry.get("error"):
                return "failed"
            value = entry.get(field)
            r = _ratio(mine, value)
            return f"{_f(value, '{:.3f}')} ({_f(r, '{:.2f}×')})"

        lines.append(f"| {name} | {_f(mine, '{:.3f}')} | {cell('old_design')} | {cell('purepy')} "
                     f"| {cell('bare_sanic')} | {cell('direct_grpc', 'client_cpu_ms_per_call')} "
                     f"| {cell('decode_floor', 'cpu_ms')} | {cell('kserve')} | {cell('kserve_lean')} |")
    return lines


def baseline_detail_table(results: dict) -> list[str]:
    lines = ["| scenario | baseline | req/s | p50 ms | p99 ms | errors | CPU ms/req | RSS/worker MB |",
             "|---|---|---:|---:|---:|---|---:|---:|"]
    for name, sc in results["scenarios"].items():
        for key, entry in sc.get("baselines", {}).items():
            if key == "decode_floor" or not entry:
                continue
            if entry.get("error"):
                lines.append(f"| {name} | {key} | failed: {entry['error'][:80]} | | | | | |")
                continue
            if key == "direct_grpc":
                lat = entry.get("latency_ms", {})
                lines.append(f"| {name} | {key} | {_f(entry.get('calls_per_s'), '{:.0f}')} "
                             f"| {_f(lat.get('p50'))} | {_f(lat.get('p99'))} "
                             f"| {sum((entry.get('errors') or {}).values())} "
                             f"| {_f(entry.get('client_cpu_ms_per_call'), '{:.3f}')} | – |")
                continue
            lat = entry.get("latency_ms", {})
            rss = max(entry.get("rss_mb_per_worker") or [0]) or None
            lines.append(f"| {name} | {key} | {_f(entry.get('rps'), '{:.0f}')} | {_f(lat.get('p50'))} "
                         f"| {_f(lat.get('p99'))} | {_errors(entry)} "
                         f"| {_f(entry.get('cpu_ms_per_request'), '{:.3f}')} | {_f(rss, '{:.0f}')} |")
    return lines


def stage_table(results: dict) -> list[str]:
    from bench.gateway_metrics import STAGES

    lines = ["| scenario | " + " | ".join(STAGES) + " | sum of stages | request (gateway) |",
             "|---|" + "---:|" * (len(STAGES) + 2)]
    for name, sc in results["scenarios"].items():
        stages = ((sc.get("closed") or {}).get("stages") or {})
        if not stages.get("stages"):
            lines.append(f"| {name} | " + " | ".join("–" for _ in STAGES) + " | – | – |")
            continue
        row = [stages["stages"].get(s, {}).get("ms_per_request") for s in STAGES]
        total = sum(v for v in row if v)
        lines.append(f"| {name} | " + " | ".join(_f(v, "{:.3f}") for v in row)
                     + f" | {_f(total, '{:.3f}')} | {_f(stages.get('request_ms_mean'), '{:.3f}')} |")
    return lines


def thread_table(results: dict) -> list[str]:
    """Gateway CPU per request by thread name (all processes): Python vs gRPC's C threads."""
    lines = ["| scenario | thread: CPU ms/req (kernel ms, minor faults) per request |", "|---|---|"]
    for name, sc in results["scenarios"].items():
        threads = (sc.get("closed") or {}).get("threads") or {}
        cells = [f"{t} {v['cpu_ms_per_request']:.3f} ({v['sys_ms_per_request']:.3f}, "
                 f"{v['minflt_per_request']:.1f})" for t, v in list(threads.items())[:5]]
        if cells:
            lines.append(f"| {name} | " + "; ".join(cells) + " |")
    return lines


def tail_table(results: dict) -> list[str]:
    """Open loop at half the closed-loop throughput: client latency next to the gateway's own
    stage histograms, to see which stage the p99 comes from (estimates from bucket counts)."""
    from bench.gateway_metrics import STAGES

    lines = ["| scenario | client p50 / p99 ms | gateway request p50 / p99 | "
             + " | ".join(f"{s} p50 / p99" for s in STAGES) + " |",
             "|---|---:|---:|" + "---:|" * len(STAGES)]
    for name, sc in results["scenarios"].items():
        half = sc.get("half_rate")
        if not half:
            continue
        st = half.get("stages") or {}
        cells = []
        for stage in STAGES:
            entry = (st.get("stages") or {}).get(stage)
            cells.append(f"{_f(entry['p50_ms'])} / {_f(entry['p99_ms'])}" if entry else "–")
        lat = half["latency_ms"]
        lines.append(f"| {name} | {_f(lat['p50'])} / {_f(lat['p99'])} "
                     f"| {_f(st.get('request_p50_ms'))} / {_f(st.get('request_p99_ms'))} | "
                     + " | ".join(cells) + " |")
    return lines


def target_table(results: dict) -> list[str]:
    lines = ["| target | measured | limit | met |", "|---|---:|---:|---|"]
    for t in results.get("targets", []):
        met = {True: "yes", False: "**no**", None: "not measured"}[t.get("ok")]
        lines.append(f"| {t['name']} | {_f(t.get('value'), '{:.3f}')} | {t['limit']} | {met} |")
    return lines


def profile_lines(results: dict) -> list[str]:
    out = []
    for name, prof in (results.get("profiles") or {}).items():
        if prof.get("error"):
            out.append(f"- {name}: profiling failed: {prof['error']}")
            continue
        out.append(f"- **{name}**: [all workers flamegraph]({prof.get('svg')}) · "
                   f"[speedscope]({prof.get('speedscope')}) · per worker: " + ", ".join(
                       f"[{w['pid']}]({w['svg']})" for w in prof.get("workers", [])))
        out.append(f"  {prof.get('samples', 0)} samples; {prof.get('waiting_share', 0):.0%} "
                   "were waits in C (event loop / gRPC poller in epoll) and are left out below; "
                   "≈ ms/req = share of the working samples × the scenario's gateway CPU per "
                   "request (rough: py-spy sees neither kernel time nor gRPC's C threads).")
        cpu = ((results["scenarios"].get(name) or {}).get("closed") or {}).get("cpu_ms_per_request")

        def approx(share):  # a share of the working samples, as a share of the measured CPU
            return _f(share * cpu, "{:.3f}") if cpu else "–"

        top = sorted(prof.get("top", []), key=lambda t: -t["self"])[:10]
        if top:
            out += ["", "  | hottest functions (self) | self | inclusive | ≈ ms/req (self) |",
                    "  |---|---:|---:|---:|"]
            out += [f"  | `{t['function']}` | {t['self']:.1%} | {t['inclusive']:.1%} "
                    f"| {approx(t['self'])} |" for t in top]
        ours = prof.get("ours", [])[:12]
        if ours:
            out += ["", "  | our code (inclusive) | share | ≈ ms/req |", "  |---|---:|---:|"]
            out += [f"  | `{t['function']}` | {t['inclusive']:.1%} | {approx(t['inclusive'])} |"
                    for t in ours]
        packages = prof.get("by_package", [])[:10]
        if packages:
            out += ["", "  self by package: " + ", ".join(
                f"{p['package']} {p['self']:.0%}" for p in packages)]
        out.append("")
    return out


def markdown(results: dict) -> str:
    meta = results.get("meta", {})
    parts = [
        "# Load test report", "",
        f"- machine: {meta.get('machine', '?')}",
        f"- command: `{meta.get('command', '?')}`",
        f"- started {meta.get('started', '?')}, took {_f(meta.get('elapsed_s'), '{:.0f}')} s; "
        f"load average before/after: {meta.get('loadavg_before', '?')} / {meta.get('loadavg_after', '?')}",
        f"- gateway: {meta.get('gateway_workers', '?')} workers, fastpack extensions: "
        f"{meta.get('using_extension', '?')}; backend: {meta.get('backend', '?')}",
        *([f"- {sidecar.LABEL}: a second gateway, same flags, reaching the same backend at "
           f"`{meta['sidecar']}` (image scenarios; clients and peers stay on TCP)"]
          if meta.get("sidecar") else []),
        "- RSS per worker at start, MB: " + "; ".join(
            f"{k} {', '.join(f'{v:.0f}' for v in vals)}"
            for k, vals in (meta.get("rss_mb_per_worker_at_start") or {}).items()),
        f"- closed loop at {meta.get('concurrency', '?')} connections for {meta.get('duration_s', '?')} s "
        f"after {meta.get('warmup_s', '?')} s warm-up; open loop at {meta.get('rates', '?')} of that "
        "throughput, latency from the intended send time.",
        "", "## Targets", "", *target_table(results),
        "", "## Gateway", "", *scenario_table(results), *sidecar_lines(results),
        "", "## Per-stage breakdown (gateway's own timings, ms per request)", "", *stage_table(results),
        "", "## Gateway CPU by thread", "", *thread_table(results),
        "", "## Where the tail comes from (open loop at ½ max; stage p50/p99 in ms, estimated from "
            "the gateway's histogram buckets)", "", *tail_table(results),
        "", *kserve_table(results),
        "## Baselines (CPU per request; ratio = gateway ÷ baseline)", "", *baseline_table(results),
        "", *baseline_detail_table(results),
    ]
    if results.get("plot"):
        parts += ["", f"![latency against throughput]({results['plot']})"]
    if results.get("scaling"):
        parts += ["", *report_scaling.markdown(results)]
    if results.get("profiles"):
        parts += ["", "## Profiles (py-spy)", "", *profile_lines(results)]
    if results.get("notes"):
        parts += ["", "## Notes", "", *[f"- {n}" for n in results["notes"]]]
    return "\n".join(parts) + "\n"


def plot(results: dict, path: Path) -> bool:
    """p50 and p99 against achieved throughput, one panel per scenario; False without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    names = [n for n, sc in results["scenarios"].items() if sc.get("closed")]
    if not names:
        return False
    cols = min(3, len(names))
    rows = (len(names) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.8 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        sc = results["scenarios"][name]
        points = sorted(sc.get("open", []), key=lambda r: r["rps"])
        for key, style in (("p50", "o-"), ("p99", "s--")):
            xs = [p["rps"] for p in points if p["latency_ms"][key] is not None]
            ys = [p["latency_ms"][key] for p in points if p["latency_ms"][key] is not None]
            if xs:
                ax.plot(xs, ys, style, label=f"open loop {key}")
        c = sc["closed"]
        ax.plot([c["rps"]], [c["latency_ms"]["p50"]], "k^", label="closed loop p50")
        ax.plot([c["rps"]], [c["latency_ms"]["p99"]], "kv", label="closed loop p99")
        ax.set_yscale("log")
        ax.set_xlim(left=0)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("requests/s")
        ax.set_ylabel("latency ms")
        ax.grid(True, which="both", alpha=0.3)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


def write(results: dict, out_dir: Path) -> dict[str, Path]:
    """results.json, latency.png (when matplotlib is there) and report.md in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / "latency.png"
    if plot(results, png):
        results["plot"] = png.name
    scaling_pngs = report_scaling.plot(results, out_dir)
    paths = {"json": out_dir / "results.json", "markdown": out_dir / "report.md"}
    paths["json"].write_text(json.dumps(results, indent=1, default=str))
    paths["markdown"].write_text(markdown(results))
    if results.get("plot"):
        paths["png"] = png
    for name in scaling_pngs:
        paths[name] = out_dir / name
    return paths


if __name__ == "__main__":
    src = Path(sys.argv[1])
    written = write(json.loads(src.read_text()), src.parent)
    print("\n".join(str(p) for p in written.values()))
