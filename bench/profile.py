"""py-spy sampling of every gateway worker, turned into flamegraphs and speedscope files.

One py-spy per worker records collapsed stacks (``--format raw``); from those we write, per
worker and for all workers merged, an SVG flamegraph and a speedscope JSON file, plus a table of
the functions holding the most samples (inclusive and self), which the report quotes. Recording
once and rendering twice keeps a single sampler per process on a 2-core machine.

py-spy reads other processes' memory with ptrace: it needs root or CAP_SYS_PTRACE
(``docker run --cap-add SYS_PTRACE``) and, under Yama, ``kernel.yama.ptrace_scope`` <= 1 for a
parent tracing its children or 0 otherwise. See bench/README.md.
"""
from __future__ import annotations

import html
import json
import shutil
import subprocess
import zlib
from collections import Counter, defaultdict
from pathlib import Path
from typing import Iterable, Optional

PYSPY = "py-spy"
# Leaf frames that are (almost always) an event loop or a poller thread waiting in epoll inside C
# code: py-spy cannot see the wait without --native, so they are counted apart as "waiting".
WAIT_LEAVES = ("Thread.run (threading.py", "_run_server_forever (sanic/server/runners.py",
               "run_forever (asyncio/base_events.py", "select (selectors.py")
OUR_CODE = ("sanic_app/", "fastpack/")


def available() -> Optional[str]:
    """Why profiling cannot run here, or None when it can."""
    if shutil.which(PYSPY) is None:
        return "py-spy is not installed (pip install py-spy, or the project's [bench] extra)"
    return None


class Recorder:
    """py-spy processes attached to the given pids for ``seconds``."""

    def __init__(self, pids: Iterable[int], out_dir: Path, seconds: float, rate: int = 250,
                 native: bool = False, label: str = "worker"):
        self.out_dir = out_dir
        self.jobs = []
        out_dir.mkdir(parents=True, exist_ok=True)
        for pid in pids:
            raw = out_dir / f"{label}-{pid}.txt"
            argv = [PYSPY, "record", "--pid", str(pid), "--duration", str(max(1, round(seconds))),
                    "--rate", str(rate), "--format", "raw", "--function", "--output", str(raw)]
            if native:
                argv.append("--native")
            log = open(out_dir / f"{label}-{pid}.py-spy.log", "wb")
            self.jobs.append((pid, raw, subprocess.Popen(argv, stdout=log, stderr=log)))
            log.close()

    def wait(self, timeout: float) -> dict[int, Path]:
        """Wait for every sampler; returns pid -> collapsed-stacks file for those that worked."""
        done = {}
        for pid, raw, proc in self.jobs:
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.terminate()
                proc.wait(5)
            if raw.exists() and raw.stat().st_size:
                done[pid] = raw
        return done


def read_collapsed(path: Path) -> Counter:
    """Collapsed stacks ('a;b;c 12' per line) -> Counter of stack tuples."""
    stacks: Counter = Counter()
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks[tuple(stack.split(";"))] += int(count)
    return stacks


def top_functions(stacks: Counter, limit: int = 25) -> list[dict]:
    """Functions by inclusive samples (each counted once per stack) with their self samples."""
    total = sum(stacks.values()) or 1
    inclusive: Counter = Counter()
    self_: Counter = Counter()
    for stack, n in stacks.items():
        for frame in set(stack):
            inclusive[frame] += n
        if stack:
            self_[stack[-1]] += n
    return [{"function": f, "inclusive": round(inclusive[f] / total, 4),
             "self": round(self_[f] / total, 4)} for f, _ in inclusive.most_common(limit)]


def split_waiting(stacks: Counter) -> tuple[Counter, int]:
    """(stacks doing work, samples whose leaf is a wait in C); see WAIT_LEAVES."""
    busy: Counter = Counter()
    waiting = 0
    for stack, n in stacks.items():
        if stack and stack[-1].startswith(WAIT_LEAVES):
            waiting += n
        else:
            busy[stack] += n
    return busy, waiting


def _file(frame: str) -> str:
    return frame.rsplit("(", 1)[-1].rstrip(")").split(":")[0] if "(" in frame else frame


def by_package(stacks: Counter) -> list[dict]:
    """Self samples by the top-level package of the leaf frame (sanic, grpc, PIL, logging...)."""
    total = sum(stacks.values()) or 1
    packages: Counter = Counter()
    for stack, n in stacks.items():
        f = _file(stack[-1]) if stack else "?"
        packages[f.split("/")[0].removesuffix(".py")] += n
    return [{"package": p, "self": round(n / total, 4)} for p, n in packages.most_common(15)]


def our_functions(stacks: Counter, limit: int = 20) -> list[dict]:
    """Our own functions (sanic_app/, fastpack/) by inclusive samples: what each step costs."""
    total = sum(stacks.values()) or 1
    inclusive: Counter = Counter()
    for stack, n in stacks.items():
        for frame in set(stack):
            if _file(frame).startswith(OUR_CODE):
                inclusive[frame] += n
    return [{"function": f, "inclusive": round(n / total, 4)}
            for f, n in inclusive.most_common(limit)]


def write_speedscope(stacks: Counter, path: Path, name: str) -> None:
    """A speedscope 'sampled' profile (https://www.speedscope.app file format)."""
    index: dict[str, int] = {}
    frames, samples, weights = [], [], []
    for stack, n in stacks.items():
        row = []
        for frame in stack:
            if frame not in index:
                index[frame] = len(frames)
                frames.append({"name": frame})
            row.append(index[frame])
        samples.append(row)
        weights.append(n)
    doc = {
        "$schema": "https://www.speedscope.app/file-format-schema.json",
        "shared": {"frames": frames},
        "profiles": [{"type": "sampled", "name": name, "unit": "none", "startValue": 0,
                      "endValue": sum(weights), "samples": samples, "weights": weights}],
        "name": name,
        "exporter": "bench/profile.py",
    }
    path.write_text(json.dumps(doc))


def _tree(stacks: Counter) -> dict:
    root = {"n": 0, "kids": {}}
    for stack, n in stacks.items():
        node = root
        node["n"] += n
        for frame in stack:
            node = node["kids"].setdefault(frame, {"n": 0, "kids": {}})
            node["n"] += n
    return root


def write_flamegraph(stacks: Counter, path: Path, title: str, width: int = 1600) -> None:
    """A static SVG flamegraph: root at the bottom, width = share of samples, hover = details."""
    root = _tree(stacks)
    total = root["n"] or 1
    row_h, font = 17, 11

    def depth(node):
        return 1 + max((depth(k) for k in node["kids"].values()), default=0)

    rows = depth(root)
    height = (rows + 2) * row_h + 30
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-family="monospace" font-size="{font}">',
             '<rect width="100%" height="100%" fill="#fdfdf8"/>',
             f'<text x="8" y="18" font-size="14">{html.escape(title)} '
             f'({total} samples; hover for details)</text>']

    def emit(name, node, x, level):
        w = node["n"] / total * (width - 16)
        if w < 0.3:
            return
        y = height - (level + 1) * row_h - 8
        hue = zlib.crc32(name.split(" (")[0].encode()) % 60
        share = 100.0 * node["n"] / total
        label = html.escape(name)
        parts.append(f'<g><title>{label}\n{node["n"]} samples, {share:.2f}%</title>'
                     f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{row_h - 1}" '
                     f'fill="hsl({hue},80%,{55 + (level % 3) * 5}%)" rx="2"/>')
        chars = int(w / (font * 0.62))
        if chars >= 4:
            text = name if len(name) <= chars else name[:chars - 2] + ".."
            parts.append(f'<text x="{x + 3:.1f}" y="{y + row_h - 5}">{html.escape(text)}</text>')
        parts.append("</g>")
        cx = x
        for kid_name, kid in sorted(node["kids"].items()):
            emit(kid_name, kid, cx, level + 1)
            cx += kid["n"] / total * (width - 16)

    emit("all", root, 8.0, 0)
    parts.append("</svg>")
    path.write_text("\n".join(parts))


def render(raw_files: dict[int, Path], out_dir: Path, scenario: str) -> dict:
    """Flamegraphs + speedscope per worker and merged; returns what the report links and quotes."""
    merged: Counter = Counter()
    per_worker = []
    for pid, raw in sorted(raw_files.items()):
        stacks = read_collapsed(raw)
        merged.update(stacks)
        svg, speedscope = out_dir / f"{scenario}-worker-{pid}.svg", \
            out_dir / f"{scenario}-worker-{pid}.speedscope.json"
        write_flamegraph(stacks, svg, f"{scenario}: gateway worker {pid}")
        write_speedscope(stacks, speedscope, f"{scenario} worker {pid}")
        per_worker.append({"pid": pid, "samples": sum(stacks.values()), "svg": svg.name,
                           "speedscope": speedscope.name, "raw": raw.name})
    result = {"scenario": scenario, "workers": per_worker}
    if merged:
        svg, speedscope = out_dir / f"{scenario}-all.svg", out_dir / f"{scenario}-all.speedscope.json"
        write_flamegraph(merged, svg, f"{scenario}: all gateway workers")
        write_speedscope(merged, speedscope, f"{scenario} all workers")
        busy, waiting = split_waiting(merged)
        result.update(samples=sum(merged.values()), waiting_share=round(
            waiting / sum(merged.values()), 4), svg=svg.name, speedscope=speedscope.name,
            top=top_functions(busy), ours=our_functions(busy), by_package=by_package(busy),
            by_module=by_module(busy))
    return result


def by_module(stacks: Counter, limit: int = 15) -> list[dict]:
    """Self samples grouped by source file: which library the CPU actually sits in."""
    total = sum(stacks.values()) or 1
    files: dict[str, int] = defaultdict(int)
    for stack, n in stacks.items():
        leaf = stack[-1] if stack else "?"
        where = leaf.rsplit("(", 1)[-1].rstrip(")") if "(" in leaf else leaf
        files[where.split(":")[0]] += n
    ranked = sorted(files.items(), key=lambda kv: -kv[1])[:limit]
    return [{"file": f, "self": round(n / total, 4)} for f, n in ranked]
