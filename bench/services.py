"""Start, probe and stop the processes a benchmark run needs (backend, gateway, baselines).

Every process is started in its own session so that stopping it also stops the workers it
spawned, by its own process-group id, and nothing else. Readiness is checked the way a client
would see it: a TCP connect, or an HTTP status, on loopback.
"""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Optional, Sequence

from bench import loadgen, procstat
from bench.procs import free_port  # noqa: F401  (re-exported: contenders and micro benchmarks use it)

REPO = Path(__file__).resolve().parent.parent


def bench_env(**extra: str) -> dict:
    """The environment for a child: the repo on sys.path, unbuffered output, plus ``extra``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def tcp_ready(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def http_get(host: str, port: int, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
    """A blocking GET over a fresh connection (for probes and /metrics)."""
    return loadgen.fetch_blocking(host, port, loadgen.build_request("GET", path, f"{host}:{port}"), timeout)


class Service:
    """A child process (and its workers) that serves on one loopback port."""

    def __init__(self, name: str, argv: Sequence[str], port: int, *, env: Optional[dict] = None,
                 log_dir: Optional[Path] = None, host: str = "127.0.0.1"):
        self.name, self.argv, self.port, self.host = name, list(argv), port, host
        self.env = env if env is not None else bench_env()
        self.log_path = (log_dir / f"{name}.log") if log_dir else None
        self.proc: Optional[subprocess.Popen] = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, ready: Optional[Callable[["Service"], bool]] = None,
              timeout: float = 90.0) -> "Service":
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        try:
            self.proc = subprocess.Popen(self.argv, env=self.env, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True,
                                         cwd=str(REPO))
        finally:
            if log is not subprocess.DEVNULL:
                log.close()
        ready = ready or (lambda svc: tcp_ready(svc.host, svc.port))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode} before it was "
                                   f"ready; see {self.log_path}:\n{self.log_tail()}")
            try:
                if ready(self):
                    return self
            except Exception:  # not up yet: connection refused, half-started worker...
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.name} not ready after {timeout:.0f}s; see {self.log_path}:\n"
                           f"{self.log_tail()}")

    def log_tail(self, nbytes: int = 3000) -> str:
        if not self.log_path or not self.log_path.exists():
            return ""
        return self.log_path.read_bytes()[-nbytes:].decode("utf-8", "replace")

    def workers(self) -> list[int]:
        """The processes doing the serving: descendants holding the listening socket.

        That leaves out helpers (multiprocessing's resource tracker and manager); with no such
        descendant (single-process mode) the main process is the worker.
        """
        pids = procstat.tree(self.pid)[1:]
        inodes = procstat.listening_inodes(self.port)
        serving = [p for p in pids if procstat.holds_socket(p, inodes)]
        return serving or [self.pid]

    def stop(self, grace: float = 10.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)  # our own session: main process + workers
        except ProcessLookupError:
            return
        try:
            self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def http_ok(path: str) -> Callable[[Service], bool]:
    def probe(svc: Service) -> bool:
        return http_get(svc.host, svc.port, path, timeout=2.0)[0] == 200
    return probe


def all_workers_answer(path: str, workers: int, attempts: int = 64) -> Callable[[Service], bool]:
    """Ready once ``workers`` distinct worker pids have answered ``path`` (body = the pid).

    Used for baselines that import TensorFlow in each worker: the port is bound by the master
    long before the workers can answer, and the first measured second must not pay for imports.
    """
    def probe(svc: Service) -> bool:
        seen = set()
        for _ in range(attempts):
            status, body = http_get(svc.host, svc.port, path, timeout=30.0)
            if status == 200:
                seen.add(body)
            if len(seen) >= workers:
                return True
        return False
    return probe


def all_workers_settled(path: str, workers: int, settle_s: float = 0.5,
                        max_cpu_s: float = 0.05) -> Callable[[Service], bool]:
    """Ready once ``path`` answers 200, ``workers`` processes hold the port and none of them
    burns CPU any more (spawned workers importing TensorFlow answer nothing for seconds, and
    the first measured window must not pay for their imports)."""
    def probe(svc: Service) -> bool:
        if http_get(svc.host, svc.port, path, timeout=2.0)[0] != 200:
            return False
        pids = svc.workers()
        if len(pids) < workers or (workers > 1 and pids == [svc.pid]):
            return False
        before = {p: procstat.sample(p).cpu_s for p in pids}
        time.sleep(settle_s)
        return all(procstat.sample(p).cpu_s - before[p] < max_cpu_s for p in pids)
    return probe


def maps_library(pid: int, marker: str) -> bool:
    """Whether a shared library whose path holds ``marker`` is mapped into ``pid``."""
    try:
        with open(f"/proc/{pid}/maps") as f:
            return any(marker in line for line in f)
    except OSError:
        return False


def all_workers_warmed(path: str, workers: int, warm_request: bytes,
                       marker: str = "") -> Callable[[Service], bool]:
    """all_workers_settled, and where ``marker`` is given, every worker has that library mapped:
    until then each probe sends a burst of ``warm_request`` on fresh connections (the workers
    share one listening socket, so bursts reach them all sooner or later)."""
    settled = all_workers_settled(path, workers)

    async def burst(svc: Service) -> None:
        await asyncio.gather(*(loadgen.fetch(svc.host, svc.port, warm_request, 60.0)
                               for _ in range(2 * workers)), return_exceptions=True)

    def probe(svc: Service) -> bool:
        if http_get(svc.host, svc.port, path, timeout=2.0)[0] != 200:
            return False
        pids = svc.workers()
        if marker and (len(pids) < workers or not all(maps_library(p, marker) for p in pids)):
            loop = loadgen.new_loop()
            try:
                loop.run_until_complete(burst(svc))
            finally:
                loop.close()
            return False
        return settled(svc)
    return probe


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]



def null_backend(null_models: Sequence[str], log_dir: Path, *extra: str) -> Service:
    """The embedded backend on a free port serving the given null models
    (``name:in=dtype[dims]:out=dtype[dims]`` each), started and answering."""
    port = free_port()
    flags = [flag for model in null_models for flag in ("--null_model", model)]
    argv = python_module("sanic_app.localserve", "--port", str(port), *flags, *extra)
    return Service("backend", argv, port, log_dir=log_dir).start(timeout=60)
