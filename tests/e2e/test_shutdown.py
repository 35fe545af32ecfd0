"""SIGTERM during load: every accepted request is answered, then the gateway exits cleanly."""
import concurrent.futures
import os
import signal
import time

import httpx
import pytest
from ops_support import GOOD_BODY, NULL_MODEL, alive, metric_value, worker_pids, write_spec

PREDICT = "/v1/models/m:predict"


@pytest.mark.slow
def test_sigterm_finishes_every_accepted_request(tmp_path, gateway_factory, localserve_factory):
    in_flight = 12
    with localserve_factory("--null_model", NULL_MODEL, "--delay_ms", "1500") as backend:
        spec = write_spec(tmp_path, addresses=[backend.target])
        with gateway_factory("--workers", "2", "--spec", spec, "--no-passthrough",
                             "--graceful-shutdown-s", "10") as gw:
            workers = worker_pids(gw.process.pid)

            def one(_):
                with httpx.Client(base_url=gw.url, timeout=20) as client:
                    return client.post(PREDICT, content=GOOD_BODY)

            pool = concurrent.futures.ThreadPoolExecutor(in_flight)
            answers = [pool.submit(one, i) for i in range(in_flight)]
            # Wait until every request is inside the gateway (the gauge sums both workers).
            deadline = time.monotonic() + 10
            while metric_value(gw.get("/metrics").text, "gateway_in_flight") < in_flight:
                assert time.monotonic() < deadline, "requests never got in flight"
                time.sleep(0.05)
            gw.client.close()  # our keep-alive probe connection must not hold shutdown up
            os.kill(gw.process.pid, signal.SIGTERM)
            time.sleep(0.3)
            # No longer accepting: a new connection is refused while the old ones finish.
            with pytest.raises(httpx.TransportError):
                httpx.post(gw.url + PREDICT, content=GOOD_BODY, timeout=2)

            results = [a.result(timeout=20) for a in answers]
            pool.shutdown()
            assert [r.status_code for r in results] == [200] * in_flight
            assert all(len(r.json()["predictions"]) == 1 for r in results)
            assert gw.process.wait(15) == 0
            assert not any(alive(p) for p in workers)
