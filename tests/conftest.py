"""Shared fixtures: real backends (LocalServe) and real gateways (subprocesses) on loopback.

Use them from module-scoped fixtures: one gateway per test module keeps the suite fast. The
helpers live in ``gateway_process`` (import that, not ``conftest``, from other files).
"""
from __future__ import annotations

import pytest

from gateway_process import REPO, SPECS, Gateway, free_port, start_gateway  # noqa: F401  (re-exported)


@pytest.fixture(scope="session")
def gateway_factory():
    """``with gateway_factory("--workers", "2") as gw: ...``"""
    return start_gateway


@pytest.fixture(scope="session")
def localserve_factory():
    """``with localserve_factory("--null_model", "m:x=float32[-1,2]:y=float32[-1,1]") as be:``"""
    from sanic_app.localserve.process import LocalServe

    return LocalServe
