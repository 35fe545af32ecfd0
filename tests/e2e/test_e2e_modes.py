"""--single-process: one process serves, and it starts and stops the embedded backend itself."""
import base64
import subprocess
from pathlib import Path

import pytest

SPECS = Path(__file__).resolve().parents[2] / "specs"



@pytest.fixture(scope="module")
def gw(gateway_factory):
    with gateway_factory("--single-process") as gateway:
        yield gateway


def children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def test_single_process_serves_with_its_own_embedded_backend(gw):
    image = base64.b64encode((SPECS / "examples" / "digit-6.png").read_bytes()).decode()
    r = gw.post("/v1/models/digits:predict", json={"instances": [{"b64": image}]})
    assert r.status_code == 200, r.text
    assert r.json()["predictions"][0][0]["class"] == 6
    assert len(children(gw.process.pid)) == 1  # the backend, and no worker processes
