"""bench.procs with real child processes: free ports, readiness, and stopping a whole group."""
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from bench.procs import free_port, start_in_session, stop_group, wait_ready

REPO = Path(__file__).resolve().parents[2]


def _python(code: str, log) -> subprocess.Popen:
    return start_in_session([sys.executable, "-c", code], cwd=REPO, env={}, log=log)


def _gone(pid: int, within: float = 5.0) -> bool:
    """True once ``pid`` no longer runs (exited and reaped, or a zombie nobody reaps)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        if state == "Z":
            return True
        time.sleep(0.02)
    return False


def test_free_port_can_be_bound_and_nobody_listens_there():
    port = free_port()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_wait_ready_returns_once_the_probe_says_so():
    child = _python("import time; time.sleep(30)", subprocess.DEVNULL)
    calls = []
    try:
        wait_ready(child, lambda: calls.append(1) or len(calls) >= 3, 10.0, what="child", interval=0.01)
        assert len(calls) == 3
    finally:
        stop_group(child, grace=5.0)
    assert child.returncode is not None


def test_wait_ready_reports_a_child_that_exits_first_with_its_log():
    with tempfile.TemporaryFile() as log:
        child = _python("print('bad flag', flush=True); raise SystemExit(3)", log)

        def tail():
            log.seek(0)
            return log.read().decode()

        with pytest.raises(RuntimeError, match=r"(?s)child exited with 3:\nbad flag"):
            wait_ready(child, lambda: False, 10.0, what="child", log_tail=tail, interval=0.01)


def test_wait_ready_gives_up_at_the_timeout():
    child = _python("import time; time.sleep(30)", subprocess.DEVNULL)
    try:
        started = time.monotonic()
        with pytest.raises(RuntimeError, match="child did not answer within its start-up time"):
            wait_ready(child, lambda: False, 0.3, what="child", interval=0.05)
        assert time.monotonic() - started >= 0.3
    finally:
        stop_group(child, grace=5.0)


def test_a_probe_error_is_not_taken_for_not_ready():
    child = _python("import time; time.sleep(30)", subprocess.DEVNULL)
    try:
        with pytest.raises(ZeroDivisionError):
            wait_ready(child, lambda: 1 / 0, 10.0, what="child")
    finally:
        stop_group(child, grace=5.0)


def test_stop_group_kills_a_child_that_ignores_sigterm_after_the_grace():
    child = _python("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                    "print('ready', flush=True); time.sleep(30)", subprocess.PIPE)
    assert child.stdout.readline() == b"ready\n"
    started = time.monotonic()
    stop_group(child, grace=0.3)
    assert child.returncode == -9 and time.monotonic() - started >= 0.3
    child.stdout.close()


WORKER = ("import os, signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
          "print(os.getpid(), flush=True); time.sleep(30)")


def test_stop_group_leaves_no_worker_behind():
    """The parent exits on SIGTERM; its worker ignores SIGTERM and is killed with the group."""
    parent = _python("import subprocess, sys, time; "
                     f"subprocess.Popen([sys.executable, '-c', {WORKER!r}]); time.sleep(30)", subprocess.PIPE)
    worker = int(parent.stdout.readline())
    stop_group(parent, grace=5.0)
    assert parent.returncode == -15
    assert _gone(worker)
    parent.stdout.close()
