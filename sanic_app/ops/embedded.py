"""The embedded backend's lifecycle: started by the main process when a model needs it.

When some spec names no target and no ``--target`` is given, the run starts the embedded TF
Serving-compatible backend (sanic_app.localserve) before any worker exists, and its address
travels to the workers in ``Settings.embedded_target``. It stops when the run ends; it also
exits by itself if the main process dies.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

from sanic_app.config import Settings
from sanic_app.core.spec import ModelConfig


def needs_embedded_backend(settings: Settings, specs: dict[str, ModelConfig]) -> bool:
    """Only when some spec has no target and no --target is given."""
    return not settings.target and any(s.target is None for s in specs.values())


@contextlib.contextmanager
def embedded_backend(settings: Settings, specs: dict[str, ModelConfig]) -> Iterator[Settings]:
    """The settings to run with: ``embedded_target`` filled in while the backend runs."""
    if settings.embedded_target or not needs_embedded_backend(settings, specs):
        yield settings
        return
    from sanic_app.localserve.process import LocalServe

    backend = LocalServe()
    backend.start()
    try:
        yield settings.replace(embedded_target=backend.target)
    finally:
        backend.stop()
