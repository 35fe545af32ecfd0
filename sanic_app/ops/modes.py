"""Run modes: what production and development change (log format and level, reload, profile).

The app factory and main read these; the Settings fields behind them (env, reload, profile*)
are declared in config.py like every other setting.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from sanic_app.ops import logging as applog
from sanic_app.ops.edge import EdgeProtocol

log = logging.getLogger("sanic_app.ops.modes")
PACKAGE_DIRS = (Path(__file__).resolve().parents[1], Path(__file__).resolve().parents[2] / "fastpack")


def log_config(settings) -> dict:
    """What Sanic(log_config=...) takes: every process of the run logs in the same mode."""
    logging.captureWarnings(True)  # warnings become log lines of the mode, not raw stderr text
    return applog.log_config(settings.env)


def describe(settings) -> str:
    workers = "1 process" if settings.single_process else f"{settings.workers} worker(s)"
    extras = [word for word, on in (("reload", settings.reload), ("profile", settings.profile)) if on]
    return f"run mode {settings.env}, {workers}" + "".join(f", {word}" for word in extras)


def profile_options(settings):
    from sanic_app.ops.profiling import ProfileOptions

    return ProfileOptions(
        every=settings.profile_every,
        directory=settings.profile_dir,
        output=settings.profile_output,
        format=settings.profile_format,
    )


def serve_options(settings) -> dict:
    """Keyword arguments for ``app.prepare`` that the run mode decides."""
    options = {
        "access_log": True,  # Sanic's access line is our structured access line (sanic_app.ops.logging)
        # ... written by our protocol straight from the request in production (no LogRecord)
        "protocol": EdgeProtocol,  # AccessLineProtocol plus the edge's deadlines and cap
        "motd": False,       # the banner is not a log line; the mode is logged instead
        "auto_reload": settings.reload,
    }
    if settings.reload:
        options["reload_dir"] = [str(d) for d in PACKAGE_DIRS if d.is_dir()]
        # Sanic watches everything under those folders: bytecode written by the restarted
        # workers would look like a change and restart them once more.
        os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
    return options
