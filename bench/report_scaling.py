"""The load report's scaling section: a table and a plot per row, and sentences from the fits
(what grows linearly, what is fixed per request, where the knee is)."""
from __future__ import annotations

from pathlib import Path

from bench import fits

ROWS = {  # row -> (title, unit of x, x label)
    "batch": ("Batch size (different 500×375 JPEGs in one request)", "image", "images per request"),
    "pixels": ("Image size (one JPEG, 4:3)", "Mpx", "megapixels"),
    "concurrency": ("Concurrency (the 500×375 JPEG)", "connection", "connections"),
    "workers": ("Worker processes (the 500×375 JPEG)", "worker", "gateway workers"),
}


def _f(value, fmt="{:.2f}"):
    return "–" if value is None else fmt.format(value)


def _xs_ys(points: list[dict], field: str) -> tuple[list, list]:
    pts = [(p["x"], p.get(field)) for p in points if p.get(field) is not None]
    return [x for x, _ in pts], [y for _, y in pts]


def findings(name: str, row: dict) -> list[str]:
    """Sentences for one row, from the medians."""
    _, unit, _ = ROWS[name]
    points = row.get("points", [])
    out = []
    fields = [("cpu_ms_per_request", "CPU per request", "ms"), ("p50", "p50 latency", "ms"),
              ("p99", "p99 latency", "ms")]
    if name in ("concurrency", "workers"):  # elsewhere throughput is just 1/cost
        fields.append(("rps", "Throughput", "req/s"))
    for field, what, value_unit in fields:
        xs, ys = _xs_ys(points, field)
        out.append(fits.describe(xs, ys, what, unit, value_unit))
    xs, faults = _xs_ys(points, "minflt_per_request")
    if xs and max(faults) >= 100:  # page faults that cost real time (~2-5 µs each here)
        out.append("Minor page faults per request (gateway, all processes): " + ", ".join(
            f"{x:g} → {v:,.0f}" for x, v in zip(xs, faults)) + ".")
    if name == "concurrency":
        out += littles_law(points)
    if name == "batch":
        xs, ys = _xs_ys(points, "peak_rss_mb")
        if xs:
            out.append(fits.describe(xs, ys, "Peak RSS per worker", unit, "MB"))
        idle = row.get("idle")
        if idle:
            out.append("RSS per worker a few idle seconds after the batch row (each sweep): "
                       + "; ".join(", ".join(f"{v:.0f}" for v in sweep) for sweep in idle) + " MB.")
    return out


def littles_law(points: list[dict]) -> list[str]:
    """Past saturation a closed loop's latency is queueing: connections ÷ throughput."""
    top = [p for p in points if p.get("rps") and p.get("p50")]
    if not top:
        return []
    p = top[-1]
    return [f"At {p['x']:g} connections Little's law (connections ÷ throughput) predicts a mean "
            f"latency of {1000.0 * p['x'] / p['rps']:.0f} ms (measured p50: {p['p50']:.0f} ms): "
            "once the cores are saturated, added connections only queue."]


def table(name: str, row: dict) -> list[str]:
    memory = name == "batch"
    head = "| x | req/s | CPU ms/req | p50 ms | p99 ms | windows | body bytes |"
    sep = "|---:|---:|---:|---:|---:|---|---:|"
    if memory:
        head += " RSS/worker after MB | peak RSS/worker MB |"
        sep += "---:|---:|"
    lines = [head, sep]
    for p in row.get("points", []):
        if p.get("error"):
            lines.append(f"| {p['x']:g} | failed: {p['error'][:100]} |" + " |" * (7 if memory else 5))
            continue
        reps = p.get("reps", [])
        cpu_reps = "/".join(_f(r.get("cpu_ms_per_request")) for r in reps if not r.get("error"))
        body = next((r.get("body_bytes") for r in reps if r.get("body_bytes")), None)
        line = (f"| {p['x']:g} | {_f(p.get('rps'), '{:.0f}')} | {_f(p.get('cpu_ms_per_request'))} "
                f"| {_f(p.get('p50'))} | {_f(p.get('p99'))} | CPU {cpu_reps} | {_f(body, '{:,}')} |")
        if memory:
            line += f" {_f(p.get('rss_mb'), '{:.0f}')} | {_f(p.get('peak_rss_mb'), '{:.0f}')} |"
        lines.append(line)
    return lines


def markdown(results: dict) -> list[str]:
    sc = results.get("scaling")
    if not sc:
        return []
    meta = sc.get("meta", {})
    limits = "; ".join(f"`{flag} {v['used']}` (default {v['default']}, largest request "
                       f"{v['largest_request']})" for flag, v in meta.get("limits", {}).items())
    out = ["## Scaling: how the cost grows", "",
           f"Closed-loop windows of {meta.get('duration_s')} s (stretched up to 4× so slow points "
           f"hold ~40 answers) after {meta.get('warmup_s')} s warm-up, each row swept "
           f"{meta.get('repeat')} times one point after another; medians. Gateway: "
           f"{meta.get('workers')} workers; batch and image-size rows at "
           f"{meta.get('concurrency')} connections, the worker row at "
           f"{meta.get('workers_concurrency')}, {meta.get('cores')} cores on this machine. "
           f"Limits on the scaling gateway's command line: {limits}. Took "
           f"{_f(meta.get('elapsed_s'), '{:.0f}')} s. CPU is the gateway's (all processes); "
           "latency is the client's and includes queueing behind the other connections and the "
           "null backend, which shares the cores.", ""]
    for name, row in sc.get("rows", {}).items():
        title = ROWS.get(name, (name,))[0]
        out += [f"### {title}", ""]
        out += [f"- {s}" for s in findings(name, row)]
        out += [""] + table(name, row) + [""]
        for png in row.get("plots", []):
            out += [f"![{name}]({png})", ""]
    return out


def plot(results: dict, out_dir: Path) -> list[str]:
    """scaling-<row>.png (CPU per request with its line fit, p50/p99, throughput) and
    scaling-memory.png (RSS per worker against batch size); file names, [] without matplotlib."""
    sc = results.get("scaling")
    if not sc:
        return []
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    written = []
    for name, row in sc.get("rows", {}).items():
        title, unit, xlabel = ROWS.get(name, (name, "", name))
        points = row.get("points", [])
        fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
        xs, ys = _xs_ys(points, "cpu_ms_per_request")
        axes[0].plot(xs, ys, "o-", label="measured (median)")
        line = fits.fit_line(xs, ys)
        if line:
            lo, hi = min(xs), max(xs)
            dense = [lo + (hi - lo) * i / 200 for i in range(201)]
            axes[0].plot(dense, [line["fixed"] + line["per_unit"] * x for x in dense], "k:",
                         label=f"line fit: {line['fixed']:.2f} + {line['per_unit']:.3g}/{unit}")
        bend = fits.knee(xs, ys)
        if bend:
            axes[0].axvline(bend["knee"], color="grey", ls="--", lw=0.8,
                            label=f"knee near {bend['knee']:g}")
        axes[0].set_ylabel("gateway CPU ms / request")
        for key, style in (("p50", "o-"), ("p99", "s--")):
            lx, ly = _xs_ys(points, key)
            axes[1].plot(lx, ly, style, label=key)
        axes[1].set_ylabel("latency ms")
        axes[1].set_yscale("log")
        rx, ry = _xs_ys(points, "rps")
        axes[2].plot(rx, ry, "o-")
        axes[2].set_ylabel("requests / s")
        axes[0].set_ylim(bottom=0)
        axes[2].set_ylim(bottom=0)
        for ax in axes:
            ax.set_xlabel(xlabel)
            if name in ("batch", "concurrency"):
                ax.set_xscale("log", base=2)
            ax.grid(True, which="both", alpha=0.3)
        axes[0].legend(fontsize=7)
        axes[1].legend(fontsize=7)
        fig.suptitle(title, fontsize=10)
        fig.tight_layout()
        path = out_dir / f"scaling-{name}.png"
        fig.savefig(path, dpi=80)
        plt.close(fig)
        row["plots"] = [path.name]
        written.append(path.name)
        if name == "batch" and any(p.get("rss_mb") for p in points):
            fig, ax = plt.subplots(figsize=(6, 3.8))
            for key, style, label in (("rss_mb", "o-", "RSS right after the window"),
                                      ("peak_rss_mb", "s--", "peak RSS during the window")):
                mx, my = _xs_ys(points, key)
                ax.plot(mx, my, style, label=label)
            for sweep in row.get("idle", [])[:1]:
                if sweep:
                    ax.axhline(max(sweep), color="grey", ls=":", label="after the row, idle")
            ax.set_xscale("log", base=2)
            ax.set_xlabel("images per request")
            ax.set_ylabel("MB per worker (largest worker)")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=7)
            fig.tight_layout()
            path = out_dir / "scaling-memory.png"
            fig.savefig(path, dpi=80)
            plt.close(fig)
            row["plots"].append(path.name)
            written.append(path.name)
    return written
