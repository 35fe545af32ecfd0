"""The lean-HTTP ceiling serves the gateway's own answer: the same bytes for the same request,
so the CPU compared in bench_request_overhead --lean is spent on the same work."""
import json

import pytest

from bench import loadgen
from bench.micro.bench_request_overhead import SCENARIOS, MODEL, start_gateway, start_lean, write_spec
from bench.services import null_backend

pytestmark = pytest.mark.slow


def post(svc, body: bytes) -> tuple[int, bytes]:
    request = loadgen.build_request("POST", f"/v1/models/{MODEL}:predict", svc.address, body,
                                    [("Content-Type", "application/json")])
    return loadgen.fetch_blocking(svc.host, svc.port, request, 60.0)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_lean_server_and_gateway_give_the_same_answer(tmp_path, scenario):
    input_spec, null_model, bodies = SCENARIOS[scenario]
    logs = tmp_path / "logs"
    logs.mkdir()
    backend = null_backend([f"{MODEL}:{null_model}"], logs)
    services = []
    try:
        spec = write_spec(tmp_path, backend.address, input_spec)
        services = [start_gateway("tree", spec, logs, None), start_lean(spec, logs)]
        body = bodies()[0]
        (status, gateway_answer), (lean_status, lean_answer) = (post(s, body) for s in services)
        assert status == lean_status == 200, (gateway_answer[:200], lean_answer[:200])
        assert lean_answer == gateway_answer
        assert "predictions" in json.loads(gateway_answer)
    finally:
        for svc in services:
            svc.stop()
        backend.stop()
