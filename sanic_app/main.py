"""Start-up: flags and variables -> Settings -> validated specs -> the process model -> serve.

The one place that decides the process model: worker processes under Sanic's manager, one
process (``--single-process``), or workers restarted on code changes (``--reload``). What
must exist before any worker (the embedded backend, the metrics directory) is made here, and
its results travel to the workers inside ``Settings``, the factory's only argument.
"""
from __future__ import annotations

import sys
from functools import partial

from sanic import Sanic
from sanic.worker.loader import AppLoader

from sanic_app.cli import parse_settings
from sanic_app.config import Settings
from sanic_app.core import grpc_poller
from sanic_app.core.spec import default_spec_paths, load_specs
from sanic_app.errors import ConfigError, SpecError
from sanic_app.http.app import build_app
from sanic_app.http.auth import Auth
from sanic_app.ops import lifecycle, metrics, modes
from sanic_app.ops.embedded import embedded_backend


def resolve(argv=None) -> Settings:
    """Settings with the demo spec filled in when no spec is given; bad input -> SystemExit(2)."""
    try:
        settings = parse_settings(argv)
        if not settings.spec_paths:
            settings = settings.replace(spec_paths=default_spec_paths())
        load_specs(settings.spec_paths)  # fail fast, in the main process, with the file and field
        Auth.from_settings(settings)     # keys and JWT key readable and well-formed
    except (ConfigError, SpecError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    return settings


def serve(settings: Settings) -> None:
    """Serve until stopped, with ``settings`` complete (every hand-off filled in)."""
    loader = AppLoader(factory=partial(build_app, settings))
    app = loader.load()  # in this process too: its Sanic() applies the run mode's logging
    modes.log.info(modes.describe(settings))
    modes.log.info(grpc_poller.describe())
    app.prepare(host=settings.host, port=settings.port, workers=settings.workers,
                single_process=settings.single_process, **modes.serve_options(settings))
    if settings.single_process:
        try:
            Sanic.serve_single(primary=app)  # a signal before its loop runs raises SystemExit
        finally:
            lifecycle.server_returned()
        return
    lifecycle.patch_worker_manager(settings.graceful_shutdown_s)  # stoppable while workers start (sanic#2997)
    lifecycle.entering_server()
    try:
        Sanic.serve(primary=app, app_loader=loader)
    finally:
        lifecycle.server_returned()


def run(settings: Settings) -> None:
    settings = settings.replace(metrics_dir=metrics.prepare_multiprocess_dir(settings.metrics_dir))
    with embedded_backend(settings, load_specs(settings.spec_paths)) as settings:
        serve(settings)


def main(argv=None) -> None:
    lifecycle.stop_on_signals()  # from the first line on, SIGTERM/SIGINT unwind through finally
    grpc_poller.use_classic_client_poller()  # for the workers (the console script imported grpc already)
    run(resolve(argv))


if __name__ == "__main__":
    main()
