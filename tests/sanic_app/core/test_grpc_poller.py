"""sanic_app.core.grpc_poller: the classic client poller is chosen only where it was measured,
never over the operator's own GRPC_EXPERIMENTS, and without importing grpc."""
import subprocess
import sys

import pytest

from sanic_app.core.grpc_poller import CLASSIC_CLIENT, VARIABLE, use_classic_client_poller


def test_set_for_the_measured_release_line():
    environ = {}
    assert use_classic_client_poller(environ, "1.85.4") is True
    assert environ == {VARIABLE: CLASSIC_CLIENT}


@pytest.mark.parametrize("version", ["1.84.0", "1.86.0", "2.0.0", ""])
def test_left_alone_on_other_releases(version):
    environ = {}
    assert use_classic_client_poller(environ, version) is False
    assert environ == {}


@pytest.mark.parametrize("theirs", ["", "-event_engine_dns", CLASSIC_CLIENT])
def test_the_operators_value_is_kept_even_empty(theirs):
    environ = {VARIABLE: theirs}
    assert use_classic_client_poller(environ, "1.85.4") is False
    assert environ == {VARIABLE: theirs}


def test_choosing_does_not_import_grpc():
    """grpc reads the variable as it is imported: choosing must come first."""
    code = ("import sys; from sanic_app.core.grpc_poller import use_classic_client_poller; "
            "use_classic_client_poller({}); sys.exit(1 if 'grpc' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0


def test_the_start_up_line_says_what_the_workers_will_read():
    from sanic_app.core.grpc_poller import describe

    assert describe({VARIABLE: CLASSIC_CLIENT}) == f"gRPC client I/O: {VARIABLE}='{CLASSIC_CLIENT}'"
    assert describe({VARIABLE: ""}) == f"gRPC client I/O: {VARIABLE}=''"
    assert "default" in describe({})
