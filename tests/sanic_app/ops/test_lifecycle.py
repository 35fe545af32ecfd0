"""The stop-at-any-moment pieces: the WorkerManager patch, death with the parent, early signals."""
import subprocess
import sys
import textwrap
import types

from sanic.worker.manager import WorkerManager

from gateway_process import REPO
from sanic_app.ops import lifecycle


class _Process:
    def __init__(self, started):
        self.started = started

    def start(self):
        self.started.append(self)


def _manager(shutting_down, started):
    worker = types.SimpleNamespace(auto_start=True, processes=[_Process(started), _Process(started)])
    return types.SimpleNamespace(_shutting_down=shutting_down, workers=[worker, worker], worker_state={},
                                 num_server=2)


def test_a_stopping_manager_starts_no_worker_and_waits_for_no_ack():
    lifecycle.patch_worker_manager(15.0)
    started = []
    WorkerManager.start(_manager(True, started))
    assert started == []
    WorkerManager.start(_manager(False, started))
    assert len(started) == 4
    assert WorkerManager._all_workers_ack(_manager(True, []))        # would spin for ever unpatched
    assert not WorkerManager._all_workers_ack(_manager(False, []))   # no acks yet: keep waiting


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO, capture_output=True,
                          text=True, timeout=30)


def test_a_child_whose_parent_is_already_gone_stops_itself():
    gone = _run("""
        import signal, time
        from sanic_app.ops.lifecycle import die_with_parent
        die_with_parent(1, signal.SIGTERM)  # "parent 1": not ours, as after the parent died
        time.sleep(10)
    """)
    assert gone.returncode == -15
    stays = _run("""
        import os, signal
        from sanic_app.ops.lifecycle import die_with_parent
        assert die_with_parent(os.getppid(), signal.SIGTERM)
        print("alive")
    """)
    assert stays.returncode == 0 and "alive" in stays.stdout


def test_an_early_signal_unwinds_through_finally():
    result = _run("""
        import os, signal, time
        from sanic_app.ops import lifecycle
        lifecycle.stop_on_signals()
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(10)
        finally:
            print("cleaned up")
    """)
    assert result.returncode == 0 and "cleaned up" in result.stdout
