"""Signal trials: start a gateway, signal it at a chosen moment, then read the process table.

One trial = ``python -m sanic_app`` in its own session; after ``delay`` seconds from the
first byte of start-up it gets SIGTERM or SIGINT (to the main process, as an orchestrator
sends it, or to the whole group, as Ctrl-C does), optionally a second one during shutdown,
or SIGKILL to the main process alone. The trial records how long until every process of the
run (the session: main, workers, the embedded backend, Sanic's Manager, the resource tracker)
is gone. Run as a script for figures: ``python tests/e2e/signal_trials.py 30``.
"""
from __future__ import annotations

import dataclasses
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
from gateway_process import free_port  # noqa: E402


def session_pids(sid: int) -> list[int]:
    """Live (non-zombie) processes whose session is ``sid``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        state, session = fields[0], int(fields[3])
        if session == sid and state not in ("Z", "X"):
            pids.append(int(entry.name))
    return pids


def describe(pids) -> list[str]:
    out = []
    for pid in pids:
        try:
            out.append(f"{pid}: " + Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:120])
        except OSError:
            pass
    return out


@dataclasses.dataclass
class Trial:
    delay: float
    how: str                 # "term-main", "int-group", "term-twice", "kill-main"
    main_exit_s: float = -1.0
    all_gone_s: float = -1.0
    leftovers: list = dataclasses.field(default_factory=list)
    log_tail: str = ""


def run_trial(delay: float, how: str, *args: str, grace_s: float = 3.0, limit_s: float = 20.0) -> Trial:
    trial = Trial(delay, how)
    log_path = Path(f"/tmp/signal-trial-{os.getpid()}.log")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "sanic_app", "--port", str(free_port()),
             "--graceful-shutdown-s", str(grace_s), *args],
            cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    sid = process.pid
    try:
        time.sleep(delay)
        if how == "kill-main":
            process.kill()
        elif how == "int-group":
            os.killpg(sid, signal.SIGINT)
        else:
            process.send_signal(signal.SIGTERM)
            if how == "term-twice":
                time.sleep(random.uniform(0.0, 0.5))
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        try:
            process.wait(limit_s)
            trial.main_exit_s = time.monotonic() - sent
        except subprocess.TimeoutExpired:
            pass
        while time.monotonic() - sent < limit_s:
            if not session_pids(sid):
                trial.all_gone_s = time.monotonic() - sent
                break
            time.sleep(0.05)
        trial.leftovers = describe(session_pids(sid))
    finally:
        for pid in session_pids(sid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if process.poll() is None:
            process.kill()
        process.wait()
        trial.log_tail = log_path.read_text(errors="replace")[-3000:]
        log_path.unlink(missing_ok=True)
    return trial


HOWS = ("term-main", "term-main", "int-group", "term-twice", "kill-main")


def trials(count: int, seed: int, max_delay: float, *args: str):
    rng = random.Random(seed)
    for i in range(count):
        yield run_trial(rng.uniform(0.0, max_delay), HOWS[i % len(HOWS)], *args)


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    worst = 0.0
    for t in trials(count, int(time.time()), 7.0, "--workers", "2"):
        worst = max(worst, t.all_gone_s if t.all_gone_s >= 0 else float("inf"))
        print(f"{t.how:11s} at {t.delay:5.2f}s: main exit {t.main_exit_s:6.2f}s, all gone {t.all_gone_s:6.2f}s"
              f" {t.leftovers or ''}", flush=True)
        if t.leftovers or t.all_gone_s < 0 or t.all_gone_s > 5.0:
            print(t.log_tail, flush=True)
    print(f"worst time until every process was gone: {worst:.2f}s")
