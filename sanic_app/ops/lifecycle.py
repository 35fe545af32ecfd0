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
3. **A stop lost in a starting worker**: the manager stops a worker with one SIGINT. Arriving
   while a listener runs, its KeyboardInterrupt is logged by Sanic, which carries on; arriving
   while Sanic runs its start-up events with its loop handler in place, ``app.stop`` stops
   that run, not the ``run_forever`` that follows. Either way the worker then serves for ever
   and the main waits on it. :func:`watch_for_lost_stop` notes the signal (or ``app.stop``)
   and repeats the stop while the worker has not begun stopping LOST_AFTER_S later.
4. **SIGKILL of the main process** leaves its children to init. Workers and Sanic's
   multiprocessing Manager ask the kernel for a signal when their parent dies
   (``PR_SET_PDEATHSIG``) and check the parent is still there right after (it may have died
   before they asked). The embedded backend watches its parent itself (localserve.cli), and
   multiprocessing's resource tracker exits when the last process holding its pipe is gone.
"""
from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from multiprocessing.managers import SyncManager

log = logging.getLogger("sanic_app.ops.lifecycle")
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_PR_SET_PDEATHSIG = 1


class _Stop:
    """What the main process does with SIGTERM/SIGINT in each phase of its life."""

    def __init__(self):
        self.phase = "raise"      # raise -> defer (inside Sanic.serve) -> done (after it)
        self.pending: int | None = None
        self.grace_s = 15.0

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

def patch_worker_manager(grace_s: float) -> None:
    """Make Sanic's WorkerManager stoppable while it starts its workers (see the module doc),
    and bound its shutdown: a worker still alive ``grace_s`` + KILL_AFTER_GRACE_S after the
    stop began is killed (its stop was lost while it started; see 3. above)."""
    from sanic.worker.manager import WorkerManager

    _stop.grace_s = grace_s
    if getattr(WorkerManager, "_gateway_patched", False):
        return
    original_init = WorkerManager.__init__
    original_all_acked = WorkerManager._all_workers_ack
    original_shutdown = WorkerManager.shutdown

    def shutdown(self):
        first = not self._shutting_down
        original_shutdown(self)
        if first:
            threading.Thread(target=_kill_stragglers, args=(self, _stop.grace_s + KILL_AFTER_GRACE_S),
                             name="kill-stragglers", daemon=True).start()

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
    WorkerManager.shutdown = shutdown
    WorkerManager.start = start
    WorkerManager._all_workers_ack = _all_workers_ack
    WorkerManager._gateway_patched = True
    _patch_sync_manager()


KILL_AFTER_GRACE_S = 0.0  # the worker had the whole grace period


def _kill_stragglers(manager, after_s: float) -> None:
    deadline = time.monotonic() + after_s
    while time.monotonic() < deadline:
        time.sleep(0.2)
        if not any(p.is_alive() for p in manager.processes):
            return
    for process in manager.processes:
        if process.is_alive():
            log.warning("worker %s still running %.1f s after the stop began: killing it", process.pid, after_s)
            try:
                os.kill(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


# --- 3. a stop lost in a starting worker -----------------------------------------------------

STOP_POLL_S = 0.5
LOST_AFTER_S = 1.0


async def watch_for_lost_stop(app) -> None:
    """Worker ``before_server_start`` (before Sanic binds ``app.stop`` to its signal handlers):
    note each stop request, and repeat it if the worker is still serving a second later. The
    watch is a loop timer, not an app task: ``app.stop`` cancels the app's tasks."""
    app.ctx.stopping = False
    app.ctx.stop_requested_at = None
    if multiprocessing.parent_process() is None:
        return

    def note(signum, frame):  # until Sanic's loop handlers replace this (no KeyboardInterrupt
        if app.ctx.stop_requested_at is None:  # raised into a listener, where Sanic logs it
            app.ctx.stop_requested_at = time.monotonic()  # and carries on serving)

    for signum in STOP_SIGNALS:
        signal.signal(signum, note)
    cls = type(app)  # Sanic refuses attributes on the instance; this process runs one app
    original_stop = getattr(cls, "_gateway_original_stop", None)
    if original_stop is None:
        original_stop = cls._gateway_original_stop = cls.stop

        def stop(self, *args, **kwargs):
            if getattr(self.ctx, "stop_requested_at", None) is None:
                self.ctx.stop_requested_at = time.monotonic()
            return original_stop(self, *args, **kwargs)

        cls.stop = stop
    loop = asyncio.get_running_loop()
    loop.call_later(STOP_POLL_S, _repeat_lost_stop, app, loop, original_stop)


async def mark_stopping(app) -> None:
    """Worker ``before_server_stop``: the stop took; the watch has nothing left to do."""
    app.ctx.stopping = True


def _repeat_lost_stop(app, loop, original_stop) -> None:
    if app.ctx.stopping or loop.is_closed():
        return
    asked = app.ctx.stop_requested_at
    if asked is not None and time.monotonic() - asked >= LOST_AFTER_S:
        log.info("a stop requested while the worker started was lost: stopping now")
        app.ctx.stop_requested_at = time.monotonic()
        original_stop(app, terminate=False)
    loop.call_later(STOP_POLL_S, _repeat_lost_stop, app, loop, original_stop)


# --- 4. children that die with their parent -------------------------------------------------

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
