"""A pod's environment: unknown GATEWAY_* names and Kubernetes service links warn, never stop."""
import logging
import subprocess
import sys

import pytest
from gateway_process import REPO

from sanic_app.cli import parse_settings
from sanic_app.podenv import is_service_link

# What the kubelet adds for a Service named "gateway" (port 8000, named "http") and one named
# "tfserving": every shape it writes.
GATEWAY_SERVICE_LINKS = {
    "GATEWAY_SERVICE_HOST": "10.96.14.7",
    "GATEWAY_SERVICE_PORT": "8000",
    "GATEWAY_SERVICE_PORT_HTTP": "8000",
    "GATEWAY_PORT": "tcp://10.96.14.7:8000",
    "GATEWAY_PORT_8000_TCP": "tcp://10.96.14.7:8000",
    "GATEWAY_PORT_8000_TCP_PROTO": "tcp",
    "GATEWAY_PORT_8000_TCP_PORT": "8000",
    "GATEWAY_PORT_8000_TCP_ADDR": "10.96.14.7",
}


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "sanic_app.config" and r.levelno == logging.WARNING]


def test_service_links_of_a_service_named_gateway_are_ignored_with_a_hint(caplog):
    caplog.set_level(logging.WARNING)
    settings = parse_settings([], dict(GATEWAY_SERVICE_LINKS, GATEWAY_WORKERS="3"))
    assert settings.port == 8000 and settings.workers == 3  # GATEWAY_PORT=tcp://... is not our port
    [message] = _warnings(caplog)
    assert "enableServiceLinks: false" in message
    for name in GATEWAY_SERVICE_LINKS:
        assert name in message


def test_our_port_next_to_the_service_links_is_still_read(caplog):
    env = dict(GATEWAY_SERVICE_LINKS)
    env.pop("GATEWAY_PORT")
    env["GATEWAY_PORT"] = "9000"  # the pod's own env wins over the link in the kubelet, too
    assert parse_settings([], env).port == 9000


def test_unknown_name_warns_once_with_the_closest_known_name(caplog):
    caplog.set_level(logging.WARNING)
    settings = parse_settings([], {"GATEWAY_WORKRES": "2", "GATEWAY_NOTHING_LIKE_IT": "x"})
    assert settings.workers == 1
    [message] = _warnings(caplog)
    assert "GATEWAY_WORKRES (did you mean GATEWAY_WORKERS?)" in message
    assert "GATEWAY_NOTHING_LIKE_IT" in message and "GATEWAY_NOTHING_LIKE_IT (did" not in message


def test_nothing_to_report_stays_quiet(caplog):
    caplog.set_level(logging.WARNING)
    parse_settings([], {"GATEWAY_WORKERS": "2", "PATH": "/bin", "TFSERVING_SERVICE_HOST": "10.0.0.9"})
    assert _warnings(caplog) == []


@pytest.mark.parametrize("name,value,link", [
    ("GATEWAY_SERVICE_HOST", "10.0.0.1", True),
    ("GATEWAY_SERVICE_PORT_GRPC", "8500", True),
    ("GATEWAY_PORT", "tcp://10.0.0.1:8000", True),
    ("GATEWAY_PORT", "udp://[fd00::1]:53", True),
    ("GATEWAY_PORT_8000_TCP_ADDR", "10.0.0.1", True),
    ("GATEWAY_MAX_BATCH_PORT_53_UDP", "udp://10.0.0.1:53", True),
    ("GATEWAY_PORT", "8000", False),
    ("GATEWAY_PORT", "tcp://nonsense", False),
    ("GATEWAY_TARGET", "tcp://10.0.0.1:8500", False),  # only NAME_PORT carries the URL form
    ("GATEWAY_WORKERS", "2", False),
])
def test_service_link_shapes(name, value, link):
    assert is_service_link(name, value) is link


def test_the_gateway_starts_in_a_pod_with_service_links_and_warns_on_stderr_once():
    """The main entry, as a process: resolve() succeeds and the warning is printed once."""
    code = "from sanic_app.main import resolve; s = resolve([]); print('port', s.port)"
    env = dict(GATEWAY_SERVICE_LINKS, PATH="/usr/bin:/bin", GATEWAY_SPCES="x.json",
               PYTHONPATH=str(REPO))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=60, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "port 8000"
    assert out.stderr.count("enableServiceLinks: false") == 1
    assert out.stderr.count("GATEWAY_SPCES (did you mean GATEWAY_SPECS?)") == 1
