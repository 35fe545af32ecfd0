"""The lean-HTTP ceiling serves the gateway's own answer: the same bytes for the same request,
so the CPU compared in bench_request_overhead --lean is spent on the same work."""
import json

import pytest

from bench import loadgen
from bench.micro.bench_request_overhead import MODEL, SCENARIOS, scenario_backend, start_gateway, start_lean

pytestmark = pytest.mark.slow


def post(svc, body: bytes) -> tuple[int, bytes]:
    request = loadgen.build_request("POST", f"/v1/models/{MODEL}:predict", svc.address, body,
                                    [("Content-Type", "application/json")])
    return loadgen.fetch_blocking(svc.host, svc.port, request, 60.0)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_lean_server_and_gateway_give_the_same_answer(tmp_path, scenario):
    with scenario_backend(scenario, tmp_path) as (spec, logs):
        services = [start_gateway("tree", spec, logs, None)]
        try:
            services.append(start_lean(spec, logs))
            body = SCENARIOS[scenario][2]()[0]
            (status, gateway_answer), (lean_status, lean_answer) = (post(s, body) for s in services)
            assert status == lean_status == 200, (gateway_answer[:200], lean_answer[:200])
            assert lean_answer == gateway_answer
            assert "predictions" in json.loads(gateway_answer)
        finally:
            for svc in services:
                svc.stop()
