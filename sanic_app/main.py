"""CLI entry: parse flags/env -> Settings -> validate specs -> run Sanic (workers or one process)."""
from __future__ import annotations

import sys
from functools import partial

from sanic import Sanic
from sanic.worker.loader import AppLoader

from sanic_app.ops import modes
from sanic_app.http.app import build_app
from sanic_app.cli import parse_settings
from sanic_app.config import Settings
from sanic_app.errors import ConfigError, SpecError
from sanic_app.core.spec import default_spec_paths, load_specs


def resolve(argv=None) -> Settings:
    """Settings with the demo spec filled in when no spec is given; bad input -> SystemExit(2)."""
    try:
        settings = parse_settings(argv)
        if not settings.spec_paths:
            settings = settings.replace(spec_paths=default_spec_paths())
        load_specs(settings.spec_paths)  # fail fast, in the main process, with the file and field
    except (ConfigError, SpecError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    return settings


def run(settings: Settings) -> None:
    loader = AppLoader(factory=partial(build_app, settings))
    app = loader.load()
    app.prepare(host=settings.host, port=settings.port, workers=settings.workers,
                single_process=settings.single_process, **modes.serve_options(settings))
    if settings.single_process:
        Sanic.serve_single(primary=app)
    else:
        Sanic.serve(primary=app, app_loader=loader)


def main(argv=None) -> None:
    run(resolve(argv))


if __name__ == "__main__":
    main()
