"""sanic_app.metrics: samples from several real processes merge into one exact scrape."""
import multiprocessing
import os

import pytest
from prometheus_client import values
from prometheus_client.parser import text_string_to_metric_families

from sanic_app import metrics


def _samples(text: bytes) -> dict:
    found = {}
    for family in text_string_to_metric_families(text.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _record(requests: int, errors: int, hold_in_flight: bool, ready, release) -> None:
    """Runs in a spawned child, like a Sanic worker."""
    m = metrics.get_metrics()
    for _ in range(requests):
        m.observe_request("predict", "digits", 200, 0.003, {"decode": 0.0002, "backend": 0.002})
    m.observe_request("predict", "digits", 429, 0.0001)
    for _ in range(errors):
        m.backend_error("digits", "UNAVAILABLE")
    if hold_in_flight:
        m.in_flight.inc()
        ready.set()
        release.wait(30)
    else:
        ready.set()


@pytest.fixture
def metrics_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(metrics.DIR_ENV, str(tmp_path))
    # The test process must stay in its own (in-memory) mode whatever the helpers switch.
    monkeypatch.setattr(values, "ValueClass", values.ValueClass)
    return tmp_path


def test_scrape_sums_all_processes_exactly(metrics_dir):
    ctx = multiprocessing.get_context("spawn")
    release = ctx.Event()
    plans = [(5, 1, True), (7, 2, False)]
    procs, readies = [], []
    for requests, errors, hold in plans:
        ready = ctx.Event()
        proc = ctx.Process(target=_record, args=(requests, errors, hold, ready, release))
        proc.start()
        procs.append(proc)
        readies.append(ready)
    try:
        for ready in readies:
            assert ready.wait(60)
        live = _samples(metrics.render()[0])
        assert live[("gateway_in_flight", ())] == 1.0
    finally:
        release.set()
        for proc in procs:
            proc.join(60)
    assert all(p.exitcode == 0 for p in procs)

    body, content_type = metrics.render()
    assert content_type.startswith("text/plain")
    got = _samples(body)
    ok = (("model", "digits"), ("route", "predict"), ("status", "200"))
    assert got[("gateway_requests_total", ok)] == 12
    assert got[("gateway_requests_total", ok[:2] + (("status", "429"),))] == 2
    assert got[("gateway_request_seconds_count", (("model", "digits"), ("route", "predict")))] == 14
    assert got[("gateway_stage_seconds_count", (("model", "digits"), ("stage", "backend")))] == 12
    decode = (("le", "0.00025"), ("model", "digits"), ("stage", "decode"))
    assert got[("gateway_stage_seconds_bucket", decode)] == 12
    decode_low = (("le", "0.0001"), ("model", "digits"), ("stage", "decode"))
    assert got[("gateway_stage_seconds_bucket", decode_low)] == 0
    errs = (("code", "UNAVAILABLE"), ("model", "digits"))
    assert got[("gateway_backend_errors_total", errs)] == 3
    # Both children are gone: their in-flight gauge no longer counts, their counts still do.
    assert got.get(("gateway_in_flight", ()), 0.0) == 0.0


def test_prepare_empties_a_reused_directory(metrics_dir):
    stale = metrics_dir / "counter_999999.db"
    stale.write_bytes(b"old run")
    keep = metrics_dir / "notes.txt"
    keep.write_text("not ours")
    assert metrics.prepare_multiprocess_dir(str(metrics_dir)) == str(metrics_dir)
    assert not stale.exists() and keep.exists()
    assert os.environ[metrics.DIR_ENV] == str(metrics_dir)


def test_prepare_without_a_path_makes_a_fresh_directory(metrics_dir, monkeypatch):
    monkeypatch.delenv(metrics.DIR_ENV)
    path = metrics.prepare_multiprocess_dir()
    try:
        assert os.path.isdir(path) and os.listdir(path) == []
        assert os.environ[metrics.DIR_ENV] == path
    finally:
        os.rmdir(path)


def test_unknown_stage_is_refused():
    with pytest.raises(ValueError, match="unknown stage"):
        metrics.GatewayMetrics().observe_stage("m", "teleport", 0.1)
