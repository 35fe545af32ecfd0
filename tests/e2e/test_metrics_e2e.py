"""/metrics across 2 real workers shows exactly the requests that were made."""
import base64
import concurrent.futures
import json
import re
import struct

import httpx
import pytest
from ops_support import SPECS, metric_value, worker_pids

from sanic_app.ops.metrics import STAGES

PREDICT = "/v1/models/digits:predict"
PNG = (SPECS / "examples" / "digit-5.png").read_bytes()
GOOD = {"instances": [{"b64": base64.b64encode(PNG).decode()}]}
GOOD_COUNT, BAD_COUNT, PROBES = 40, 6, 5


@pytest.mark.slow
def test_one_scrape_sums_both_workers_exactly(tmp_path, gateway_factory):
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    # A previous run's worker that counted 1000 good requests: must not leak into this run.
    stale = ["counter", "gateway_requests_total", {"route": "post_model", "model": "digits", "status": "200"}]
    (metrics_dir / "tfsgw_1.keys").write_text(json.dumps([0, *stale, []]) + "\n")
    (metrics_dir / "tfsgw_1.bin").write_bytes(struct.pack("<d", 1000.0))
    with gateway_factory("--workers", "2", "--metrics-dir", str(metrics_dir)) as gw:
        workers = worker_pids(gw.process.pid)
        assert len(workers) == 2
        assert not (metrics_dir / "tfsgw_1.keys").exists()  # emptied at start

        def call(i):
            # A fresh connection each time, many at once, so both workers take some.
            with httpx.Client(base_url=gw.url, timeout=30) as client:
                if i < GOOD_COUNT:
                    return client.post(PREDICT, json=GOOD).status_code
                if i < GOOD_COUNT + BAD_COUNT:
                    return client.post(PREDICT, content=b"{not json").status_code
                return client.get("/healthz").status_code

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(call, range(GOOD_COUNT + BAD_COUNT + PROBES)))
        assert statuses == [200] * GOOD_COUNT + [400] * BAD_COUNT + [200] * PROBES

        served_by = {int(m.group(1)) for f in metrics_dir.iterdir()
                     if (m := re.fullmatch(r"tfsgw_(\d+)\.keys", f.name))}
        assert served_by == workers, "both workers must have answered for this test to mean anything"

        text = gw.get("/metrics").text
        ok = dict(route="post_model", model="digits")
        assert metric_value(text, "gateway_requests_total", status="200", **ok) == GOOD_COUNT
        assert metric_value(text, "gateway_requests_total", route="post_model", status="400") == BAD_COUNT
        assert metric_value(text, "gateway_requests_total", route="healthz", status="200") == PROBES
        assert metric_value(text, "gateway_request_seconds_count", **ok) == GOOD_COUNT
        assert metric_value(text, "gateway_request_seconds_bucket", le="+Inf", **ok) == GOOD_COUNT
        for stage in STAGES:
            assert metric_value(text, "gateway_stage_seconds_count", model="digits", stage=stage) == GOOD_COUNT, stage
        assert metric_value(text, "gateway_stage_seconds_sum", model="digits", stage="backend") > 0
        assert metric_value(text, "gateway_backend_errors_total") == 0
        assert metric_value(text, "gateway_in_flight") == 0
        assert "# TYPE gateway_in_flight gauge" in text
        # The scrape itself is counted once it is answered: a second scrape sees the first.
        again = gw.get("/metrics").text
        assert metric_value(again, "gateway_requests_total", route="metrics", status="200") >= 1
