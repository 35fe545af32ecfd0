"""Child processes on loopback ports, for benchmarks and tests: a free port, a start in a session
of its own, a wait until the child answers, and a stop of its whole process group.

A child started in its own session leads its own process group, so stopping the group stops
the workers it spawned too, and nothing else. (Tests import this; it imports nothing of theirs.)
"""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from typing import IO, Callable, Mapping, Sequence, Union

Log = Union[int, IO[bytes], None]  # what Popen takes for stdout: a file, DEVNULL, PIPE


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nobody listens on now (the kernel's pick, released again)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def start_in_session(argv: Sequence[str], *, cwd, env: Mapping[str, str], log: Log,
                     preexec_fn: Callable[[], None] | None = None) -> subprocess.Popen:
    """``argv`` as the leader of a new session: stdin closed, stdout and stderr into ``log``
    (``preexec_fn`` runs in the child before it starts: a lower fd limit, say)."""
    return subprocess.Popen(list(argv), cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=preexec_fn)


def wait_ready(process: subprocess.Popen, ready: Callable[[], bool], timeout: float, *, what: str,
               log_tail: Callable[[], str] = lambda: "", interval: float = 0.1) -> None:
    """Call ``ready()`` every ``interval`` seconds until it is true.

    ``ready`` returns False while the child cannot answer yet (connection refused and the like);
    anything it raises is a real error and propagates. Raises RuntimeError, with the end of the
    child's log, when the child exits first or ``timeout`` seconds pass.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}:\n{log_tail()}")
        if ready():
            return
        time.sleep(interval)
    raise RuntimeError(f"{what} did not answer within its start-up time:\n{log_tail()}")


def stop_group(process: subprocess.Popen, grace: float = 15.0) -> None:
    """SIGTERM to the child's process group, SIGKILL after ``grace`` seconds, then SIGKILL to
    whatever is left in the group (workers should have gone with their parent; none may stay)."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
