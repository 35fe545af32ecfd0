"""Backend faults through a real gateway: outage and restart, deadlines, overload."""
import concurrent.futures
import os
import signal
import threading
import time

import httpx
import pytest
from ops_support import (GOOD_BODY, NULL_MODEL, Load, alive, free_port, metric_value, rss_bytes, worker_pids,
                         write_spec)


PREDICT = "/v1/models/m:predict"


def wait_for(probe, timeout: float):
    """Poll ``probe`` until it returns something truthy; that value, or fail at ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


@pytest.mark.slow
def test_backend_killed_and_restarted_fails_fast_then_recovers(tmp_path, gateway_factory, localserve_factory):
    port = free_port()
    backend = localserve_factory("--null_model", NULL_MODEL, "--port", str(port)).start()
    spec = write_spec(tmp_path)
    try:
        with gateway_factory("--workers", "2", "--spec", spec, "--target", f"127.0.0.1:{port}",
                             "--no-passthrough") as gw:
            pids = worker_pids(gw.process.pid)
            assert len(pids) == 2
            with Load(gw.url, PREDICT, threads=4) as load:
                wait_for(lambda: sum(r[1] == 200 for r in load.results) >= 5, 15)
                killed_at = time.monotonic()
                os.kill(backend.pid, signal.SIGKILL)
                backend.stop()
                time.sleep(1.5)
                outage_probe = gw.get("/readyz")
                restarted_at = time.monotonic()
                backend = localserve_factory("--null_model", NULL_MODEL, "--port", str(port)).start()
                ready_at = time.monotonic()
                recovered_at = wait_for(
                    lambda: min((r[0] for r in load.between(ready_at, 1e12) if r[1] == 200), default=None), 10)
                time.sleep(max(0.0, ready_at + 2.8 - time.monotonic()))
                end = time.monotonic()

            before = [r for r in load.between(0, killed_at) if r[0] + r[2] < killed_at]
            assert before and all(status == 200 for _, status, _ in before)
            # Outage: after the in-flight calls drain, every answer is a quick 503.
            outage = load.between(killed_at + 0.2, restarted_at)
            assert len(outage) > 10
            assert {status for _, status, _ in outage} == {503}, sorted({s for _, s, _ in outage})
            assert max(seconds for _, _, seconds in outage) < 1.0
            assert outage_probe.status_code == 503 and "model 'm': status check failed" in outage_probe.json()["error"]
            assert outage_probe.headers["retry-after"] == "1"
            # Recovery without restarting the gateway: each worker's channel retries at most
            # 1 s (+20% jitter) apart, so 1.5 s after the backend is back every request succeeds.
            assert recovered_at - ready_at < 1.5
            after = load.between(ready_at + 1.5, end)
            assert len(after) > 5 and all(status == 200 for _, status, _ in after), sorted({s for _, s, _ in after})
            assert -1 not in {status for _, status, _ in load.results}

            failed = gw.post(PREDICT, content=GOOD_BODY)
            assert failed.status_code == 200
            assert worker_pids(gw.process.pid) == pids and all(alive(p) for p in pids)
            scrape = gw.get("/metrics").text
            assert metric_value(scrape, "gateway_backend_errors_total", model="m", code="UNAVAILABLE") >= len(outage)
    finally:
        backend.stop()


@pytest.mark.slow
def test_outage_answer_is_503_with_retry_after(tmp_path, gateway_factory):
    spec = write_spec(tmp_path, addresses=[f"127.0.0.1:{free_port()}"])  # nobody listens there
    with gateway_factory("--spec", spec, "--no-passthrough") as gw:
        started = time.monotonic()
        answer = gw.post(PREDICT, content=GOOD_BODY)
        took = time.monotonic() - started
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "1"
    assert "backend unavailable" in answer.json()["error"]
    assert took < 1.0  # one retry after ~0.1 s, never a wait for the deadline


@pytest.mark.slow
def test_slow_backend_gets_504_within_the_deadline(tmp_path, gateway_factory, localserve_factory):
    with localserve_factory("--null_model", NULL_MODEL, "--delay_ms", "1500") as backend:
        spec = write_spec(tmp_path, addresses=[backend.target], deadline_ms=300)
        with gateway_factory("--spec", spec, "--no-passthrough") as gw:
            timings = []
            for _ in range(3):
                started = time.monotonic()
                answer = gw.post(PREDICT, content=GOOD_BODY)
                timings.append(time.monotonic() - started)
                assert answer.status_code == 504
                assert "deadline" in answer.json()["error"].lower()
            # Never retried after DEADLINE_EXCEEDED: 300 ms + a small margin, not 600.
            assert max(timings) < 0.3 + 0.25, timings
            assert min(timings) >= 0.29, timings
            assert gw.get("/healthz").status_code == 200


@pytest.mark.slow
def test_overload_is_refused_at_once_and_memory_stays_bounded(tmp_path, gateway_factory, localserve_factory):
    limit, clients = 4, 32
    with localserve_factory("--null_model", NULL_MODEL, "--delay_ms", "400") as backend:
        spec = write_spec(tmp_path, addresses=[backend.target])
        with gateway_factory("--workers", "1", "--spec", spec, "--no-passthrough",
                             "--max-in-flight", str(limit)) as gw:
            (worker,) = worker_pids(gw.process.pid)

            sessions = [httpx.Client(base_url=gw.url, timeout=10) for _ in range(clients)]

            def one(args):
                client, barrier = args
                client.get("/healthz")  # connect first, so all posts arrive together
                barrier.wait(10)
                started = time.monotonic()
                answer = client.post(PREDICT, content=GOOD_BODY)
                return answer, time.monotonic() - started

            rss, refusals = [], 0
            with concurrent.futures.ThreadPoolExecutor(clients) as pool:
                for _ in range(3):
                    barrier = threading.Barrier(clients)
                    results = list(pool.map(one, [(c, barrier) for c in sessions]))
                    rss.append(rss_bytes(worker))
                    ok = [(a, t) for a, t in results if a.status_code == 200]
                    refused = [(a, t) for a, t in results if a.status_code == 429]
                    assert len(ok) + len(refused) == clients
                    assert limit <= len(ok) <= 2 * limit, len(ok)  # 2x: slack for a noisy box
                    assert all(t >= 0.39 for _, t in ok)
                    # Refusals do not wait for the slow backend.
                    assert sorted(t for _, t in refused)[len(refused) // 2] < 0.2
                    refusals += len(refused)
                    sample = refused[0][0]
                    assert sample.headers["retry-after"] == "1" and "overloaded" in sample.json()["error"]
            for client in sessions:
                client.close()
            assert rss[-1] - rss[0] < 30 * 1024 * 1024, rss
            # Probes and scrapes are never refused for load, and nothing is left in flight.
            assert gw.get("/healthz").status_code == 200
            scrape = gw.get("/metrics").text
            assert metric_value(scrape, "gateway_in_flight") == 0
            assert metric_value(scrape, "gateway_requests_total", route="post_model", status="429") == refusals
            assert gw.post(PREDICT, content=GOOD_BODY).status_code == 200


@pytest.mark.slow
def test_clients_that_give_up_free_their_in_flight_slots(tmp_path, gateway_factory, localserve_factory):
    with localserve_factory("--null_model", NULL_MODEL, "--delay_ms", "1000") as backend:
        spec = write_spec(tmp_path, addresses=[backend.target])
        with gateway_factory("--workers", "1", "--spec", spec, "--no-passthrough", "--max-in-flight", "2") as gw:
            in_flight = lambda: metric_value(gw.get("/metrics").text, "gateway_in_flight")  # noqa: E731
            for _ in range(4):  # each one takes a slot, then hangs up; twice the limit in all
                with pytest.raises(httpx.TimeoutException):
                    httpx.post(gw.url + PREDICT, content=GOOD_BODY, timeout=0.2)
                # The hang-up reaches the worker a moment later; the slot must come back then,
                # long before the backend would have answered (1 s).
                wait_for(lambda: in_flight() == 0, 0.5)
            assert [gw.post(PREDICT, content=GOOD_BODY).status_code for _ in range(2)] == [200, 200]


@pytest.mark.slow
def test_refused_requests_never_buffer_their_bodies(tmp_path, gateway_factory, localserve_factory):
    limit, clients, body_mb = 2, 16, 16
    big_body = GOOD_BODY[:-1] + b" " * (body_mb << 20) + b"}"  # valid JSON, 16 MB of spaces
    with localserve_factory("--null_model", NULL_MODEL, "--delay_ms", "1000") as backend:
        spec = write_spec(tmp_path, addresses=[backend.target])
        with gateway_factory("--workers", "1", "--spec", spec, "--no-passthrough",
                             "--max-in-flight", str(limit)) as gw:
            (worker,) = worker_pids(gw.process.pid)
            sessions = [httpx.Client(base_url=gw.url, timeout=20) for _ in range(clients)]
            for client in sessions:
                client.get("/healthz")
            # Fill the slots with small slow requests, then send the big ones.
            with concurrent.futures.ThreadPoolExecutor(clients + limit) as pool:
                holders = [pool.submit(sessions[i].post, PREDICT, content=GOOD_BODY) for i in range(limit)]
                wait_for(lambda: metric_value(gw.get("/metrics").text, "gateway_in_flight") == limit, 5)
                peak_before = rss_bytes(worker, "VmHWM")
                big = list(pool.map(lambda c: c.post(PREDICT, content=big_body).status_code, sessions[limit:]))
                assert [h.result().status_code for h in holders] == [200] * limit
            peak_growth = rss_bytes(worker, "VmHWM") - peak_before
            for client in sessions:
                client.close()
    assert big == [429] * (clients - limit)
    # 14 x 16 MB would be 224 MB if refused bodies were read into memory.
    assert peak_growth < 3 * (body_mb << 20), peak_growth
