"""The KServe peer over real sockets: it takes the gateway's v1 body and answers top-k rows.

Runs only where its venv exists (bench/baselines/kserve_env.sh); CI does not build it. The
peer's logic is tested without KServe in test_kserve_logic.py.
"""
import base64
import json
from argparse import Namespace
from pathlib import Path

import pytest

from bench import contenders, loadgen, scenarios
from bench.run_load import IMAGE_SPEC, KSERVE_VENV
from bench.served_models import Models

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not (Path(KSERVE_VENV) / "bin" / "python").exists(),
    reason=f"no KServe venv at {KSERVE_VENV} (bash bench/baselines/kserve_env.sh)")]


def post(svc, path: str, doc) -> tuple[int, bytes]:
    request = loadgen.build_request("POST", path, svc.address, json.dumps(doc).encode(),
                                    [("Content-Type", "application/json")])
    return loadgen.fetch_blocking(svc.host, svc.port, request, 60.0)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("key", sorted(contenders.KSERVE_VARIANTS))
def test_peer_answers_the_gateways_v1_body(tmp_path, key):
    args = Namespace(kserve_venv=KSERVE_VENV, workers=1, backend_delay_ms=0)
    models = Models(IMAGE_SPEC, tmp_path)
    with contenders.start_backend(args, models, tmp_path) as backend:
        models.write_specs(backend.address)
        with contenders.start_kserve(args, models, backend.address, tmp_path, key) as peer:
            path = f"/v1/models/{models.image_model}:predict"
            b64 = base64.b64encode(scenarios.photo_jpeg(64, 48)).decode()
            status, body = post(peer, path, {"instances": [{"b64": b64},
                                                           {models.image_input: {"b64": b64}}]})
            assert status == 200, body[:500]
            rows = json.loads(body)["predictions"]
            assert len(rows) == 2 and len(rows[0]) == 5
            assert all(set(c) == {"class", "score"} for c in rows[0])
            assert [c["score"] for c in rows[0]] == sorted((c["score"] for c in rows[0]),
                                                           reverse=True)
            status, body = post(peer, path, {"instances": [{"b64": "!!"}]})
            assert status == 400, body[:500]
            status, _ = post(peer, path, {"instances": [{"b64": b64}]})
            assert status == 200  # the worker lives on
