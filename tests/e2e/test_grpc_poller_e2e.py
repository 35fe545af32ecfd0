"""The gateway's workers run gRPC with the classic client poller unless the operator chose."""
import base64
from pathlib import Path

import pytest
from ops_support import SPECS, worker_pids

from sanic_app.core.grpc_poller import CLASSIC_CLIENT, MEASURED_ON, VARIABLE, grpcio_version


DIGIT = {"instances": [{"b64": base64.b64encode((SPECS / "examples" / "digit-3.png").read_bytes()).decode()}]}


def environment(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


@pytest.mark.slow
@pytest.mark.skipif(not grpcio_version().startswith(MEASURED_ON), reason="classic poller chosen on measured grpcio only")
@pytest.mark.parametrize("theirs, expected", [(None, CLASSIC_CLIENT), ("", "")], ids=["default", "operator's"])
def test_workers_inherit_the_choice(gateway_factory, theirs, expected):
    env = {} if theirs is None else {VARIABLE: theirs}
    with gateway_factory("--workers", "1", env=env) as gw:
        (worker,) = worker_pids(gw.process.pid)
        assert environment(worker).get(VARIABLE) == expected
        assert gw.post("/v1/models/digits:predict", json=DIGIT).status_code == 200  # calls go through
