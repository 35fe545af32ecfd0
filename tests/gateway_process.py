"""Real gateway processes for tests and benchmarks, importable by name from anywhere under tests/.

``start_gateway(...)`` runs ``python -m sanic_app`` with the given flags on a free port, waits
until it answers HTTP, and on exit terminates it (SIGTERM to its process group, SIGKILL after a
grace period) so no worker outlives its user. (A module of its own because ``from conftest
import ...`` resolves to whichever conftest pytest loaded last.)
"""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
SPECS = REPO / "specs"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


@contextlib.contextmanager
def start_gateway(*args: str, env: dict | None = None, ready_timeout: float = 60.0, preexec_fn=None):
    port = free_port()
    log = tempfile.TemporaryFile(prefix="gateway-", suffix=".log")
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    child_env.update(env or {})
    process = subprocess.Popen(
        [sys.executable, "-m", "sanic_app", "--port", str(port), *args],
        cwd=REPO, env=child_env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True, preexec_fn=preexec_fn,
    )
    gateway = Gateway(process, port, log)
    try:
        _wait_ready(gateway, time.monotonic() + ready_timeout)
        yield gateway
    finally:
        gateway.client.close()
        _terminate(process)
        log.close()


def _wait_ready(gateway: Gateway, deadline: float) -> None:
    while time.monotonic() < deadline:
        if gateway.process.poll() is not None:
            raise RuntimeError(f"gateway exited with {gateway.process.returncode}:\n{gateway.log_text()[-4000:]}")
        try:
            gateway.client.get("/__ready_probe__", timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"gateway did not answer within its start-up time:\n{gateway.log_text()[-4000:]}")


def _terminate(process: subprocess.Popen) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    # workers left in the group (should be none after a clean shutdown)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
