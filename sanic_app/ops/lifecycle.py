"""Stopping at any moment: SIGTERM/SIGINT from the first byte of start-up on, and a killed parent.

Three gaps this closes, each small:

1. **Before Sanic's manager owns the signals** (imports, the embedded backend's start, the
   metrics directory), SIGTERM's default action would end the main process without its
   ``finally`` blocks. :func:`stop_on_signals` makes SIGTERM/SIGINT raise ``SystemExit`` there,
   so the embedded backend is stopped by its context manager. From ``Sanic.serve`` on, a
   signal is only *recorded* (raising inside Sanic's set-up would leave its helpers half made)
   and replayed to the WorkerManager as soon as it exists.
2. **Sanic's WorkerManager during start-up** (sanic 25.12; upstream sanic-org/sanic#2997,
   fix proposed in PR #3063): a signal while the workers start makes ``wait_for_ack`` spin
   for ever (it re-sends the manager's "stop" message to itself and waits for acks from
   workers it has just terminated), and a signal between two worker starts is followed by
   starting the rest. :func:`patch_worker_manager` makes ``start`` skip workers once shutting
   down and lets ``wait_for_ack`` end once shutting down; the rest of Sanic's shutdown runs
   unchanged.
3. **SIGKILL of the main process** leaves its children to init. Workers and Sanic's
   multiprocessing Manager ask the kernel for a signal when their parent dies
   (``PR_SET_PDEATHSIG``) and check the parent is still there right after (it may have died
   before they asked). The embedded backend watches its parent itself (localserve.cli), and
   multiprocessing's resource tracker exits when the last process holding its pipe is gone.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import logging
import multiprocessing
import os
import signal
import sys
from multiprocessing.managers import SyncManager

log = logging.getLogger("sanic_app.ops.lifecycle")
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_PR_SET_PDEATHSIG = 1


class _Stop:
    """What the main process does with SIGTERM/SIGINT in each phase of its life."""

    def __init__(self):
        self.phase = "raise"      # raise -> defer (inside Sanic.serve) -> done (after it)
        self.pending: int | None = None

    def handle(self, signum, frame):
        if self.phase == "raise":
            self.phase = "done"   # a second signal while unwinding must not interrupt cleanup
            raise SystemExit(0)
        if self.pending is None:  # defer: the WorkerManager replays it; done: already stopping
            self.pending = signum


_stop = _Stop()


def stop_on_signals() -> None:
    """Main process, first thing: SIGTERM/SIGINT end start-up through the ``finally`` blocks."""
    _stop.phase, _stop.pending = "raise", None
    for signum in STOP_SIGNALS:
        signal.signal(signum, _stop.handle)


def entering_server() -> None:
    """From here Sanic builds its manager: signals are recorded, then handed to it."""
    _stop.phase = "defer"


def server_returned() -> None:
    """Sanic's manager is gone; what is left (the embedded backend's stop) must run to its end."""
    _stop.phase = "done"
    for signum in STOP_SIGNALS:
        signal.signal(signum, _stop.handle)


# --- 2. Sanic's WorkerManager ---------------------------------------------------------------

def patch_worker_manager() -> None:
    """Make Sanic's WorkerManager stoppable while it starts its workers (see the module doc)."""
    from sanic.worker.manager import WorkerManager

    if getattr(WorkerManager, "_gateway_patched", False):
        return
    original_init = WorkerManager.__init__
    original_all_acked = WorkerManager._all_workers_ack

    def __init__(self, *args, **kwargs):
        original_init(self, *args, **kwargs)  # installs Sanic's own signal handlers
        if _stop.pending is not None:  # a signal came while Sanic was setting up: replay it
            log.info("stop requested during start-up (%s)", signal.Signals(_stop.pending).name)
            self.shutdown_signal(_stop.pending, None)

    def start(self):
        for worker in self.workers:
            for process in worker.processes:
                if self._shutting_down:
                    return
                if not worker.auto_start:
                    process.set_state(type(process.state).NONE, True)
                    continue
                process.start()

    def _all_workers_ack(self):
        return self._shutting_down or original_all_acked(self)

    WorkerManager.__init__ = __init__
    WorkerManager.start = start
    WorkerManager._all_workers_ack = _all_workers_ack
    WorkerManager._gateway_patched = True
    _patch_sync_manager()


# --- 3. children that die with their parent -------------------------------------------------

def _libc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None


def die_with_parent(parent_pid: int, signum: int = signal.SIGTERM) -> bool:
    """Ask for ``signum`` when the parent dies; if it already has, send it now. Linux only."""
    libc = _libc()
    if libc is None:
        return False
    if libc.prctl(_PR_SET_PDEATHSIG, int(signum), 0, 0, 0) != 0:
        return False
    if os.getppid() != parent_pid:  # died before we asked: we are init's (or a subreaper's) now
        os.kill(os.getpid(), signum)
    return True


def worker_follows_parent() -> None:
    """In a worker process (spawned by Sanic's manager): stop gracefully when the main dies."""
    parent = multiprocessing.parent_process()
    if parent is not None and parent.pid:
        die_with_parent(parent.pid, signal.SIGTERM)


def _manager_process_init(parent_pid: int) -> None:
    """Sanic's state Manager lives exactly as long as the main process: it ignores SIGTERM
    (a signal to the process group must not pull the state from under the main's shutdown;
    the main shuts it down last) and is killed when the main is gone."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    die_with_parent(parent_pid, signal.SIGKILL)


def _sync_manager() -> SyncManager:
    manager = SyncManager(ctx=multiprocessing.get_context())
    manager.start(_manager_process_init, (os.getpid(),))
    return manager


def _patch_sync_manager() -> None:
    """Sanic calls ``multiprocessing.Manager()`` by the name it imported; start ours instead."""
    from sanic.mixins import startup

    startup.Manager = _sync_manager
