"""Real gateway processes for tests and benchmarks, importable by name from anywhere under tests/.

``start_gateway(...)`` runs ``python -m sanic_app`` with the given flags on a free port, waits
until it answers HTTP, and on exit terminates it (SIGTERM to its process group, SIGKILL after a
grace period) so no worker outlives its user; the process handling is ``bench.procs``, shared
with the benchmarks. (A module of its own because ``from conftest import ...`` resolves to
whichever conftest pytest loaded last.)
"""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

from bench.procs import free_port, start_in_session, stop_group, wait_ready

REPO = Path(__file__).resolve().parent.parent
SPECS = REPO / "specs"


class Gateway:
    """A running gateway subprocess and an HTTP client for it."""

    def __init__(self, process: subprocess.Popen, port: int, log):
        self.process, self.port, self._log = process, port, log
        self.url = f"http://127.0.0.1:{port}"
        self.client = httpx.Client(base_url=self.url, timeout=30.0)

    def post(self, path, **kwargs) -> httpx.Response:
        return self.client.post(path, **kwargs)

    def get(self, path, **kwargs) -> httpx.Response:
        return self.client.get(path, **kwargs)

    def log_text(self) -> str:
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")

    def answers(self) -> bool:
        """Whether the server answers HTTP at all (any status: it is up)."""
        try:
            self.client.get("/__ready_probe__", timeout=1.0)
            return True
        except httpx.TransportError:
            return False


@contextlib.contextmanager
def start_gateway(*args: str, env: dict | None = None, ready_timeout: float = 60.0, preexec_fn=None):
    port = free_port()
    log = tempfile.TemporaryFile(prefix="gateway-", suffix=".log")
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    child_env.update(env or {})
    process = start_in_session([sys.executable, "-m", "sanic_app", "--port", str(port), *args],
                               cwd=REPO, env=child_env, log=log, preexec_fn=preexec_fn)
    gateway = Gateway(process, port, log)
    try:
        wait_ready(process, gateway.answers, ready_timeout, what="gateway",
                   log_tail=lambda: gateway.log_text()[-4000:])
        yield gateway
    finally:
        gateway.client.close()
        stop_group(process, grace=15.0)
        log.close()
