"""sanic_app.ops.metrics: samples from several real processes merge into one exact scrape."""
import multiprocessing
import os

import pytest
from prometheus_client.parser import text_string_to_metric_families

from sanic_app.ops import metrics


def _samples(text: bytes) -> dict:
    found = {}
    for family in text_string_to_metric_families(text.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _record(directory: str, requests: int, errors: int, hold_in_flight: bool, ready, release) -> None:
    """Runs in a spawned child, like a Sanic worker."""
    metrics.use_directory(directory)
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
    monkeypatch.setattr(metrics, "_directory", str(tmp_path))
    monkeypatch.setattr(metrics, "_metrics", None)
    return tmp_path


def test_scrape_sums_all_processes_exactly(metrics_dir):
    ctx = multiprocessing.get_context("spawn")
    release = ctx.Event()
    plans = [(5, 1, True), (7, 2, False)]
    procs, readies = [], []
    for requests, errors, hold in plans:
        ready = ctx.Event()
        proc = ctx.Process(target=_record, args=(str(metrics_dir), requests, errors, hold, ready, release))
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
    stale = metrics_dir / "tfsgw_999999.keys"
    stale.write_bytes(b"old run")
    keep = metrics_dir / "notes.txt"
    keep.write_text("not ours")
    assert metrics.prepare_multiprocess_dir(str(metrics_dir)) == str(metrics_dir)
    assert not stale.exists() and keep.exists()
    assert "TFSGW_METRICS_DIR" not in os.environ  # it travels to workers in Settings


def test_prepare_without_a_path_makes_a_fresh_directory(metrics_dir, monkeypatch):
    path = metrics.prepare_multiprocess_dir()
    try:
        assert os.path.isdir(path) and os.listdir(path) == [] and path != str(metrics_dir)
    finally:
        os.rmdir(path)


def test_unknown_stage_is_refused_and_ignored_in_bulk(tmp_path):
    m = metrics.GatewayMetrics(str(tmp_path))
    with pytest.raises(ValueError, match="unknown stage"):
        m.observe_stage("m", "teleport", 0.1)
    m.observe_request("r", "m", 200, 0.1, {"teleport": 1.0, "decode": 0.5})
    got = _samples(metrics.exposition(metrics.collect(str(tmp_path))))
    assert got[("gateway_stage_seconds_count", (("model", "m"), ("stage", "decode")))] == 1
    assert not any(dict(labels).get("stage") == "teleport" for _, labels in got)


def test_bucket_edges_sums_and_label_escaping(tmp_path):
    m = metrics.GatewayMetrics(str(tmp_path))
    for value in (0.0001, 0.00010001, 0.5, 100.0):  # on an edge, just past it, mid, past all
        m.observe_stage('we"ird\\model\n', "decode", value)
    text = metrics.exposition(metrics.collect(str(tmp_path)))
    got = _samples(text)
    labels = (("model", 'we"ird\\model\n'), ("stage", "decode"))
    bucket = lambda le: got[("gateway_stage_seconds_bucket", (("le", le),) + labels)]
    assert bucket("0.0001") == 1
    assert bucket("0.00025") == 2
    assert bucket("0.5") == 3
    assert bucket("10.0") == 3
    assert bucket("+Inf") == 4
    assert got[("gateway_stage_seconds_count", labels)] == 4
    assert got[("gateway_stage_seconds_sum", labels)] == pytest.approx(100.50020001)
    assert got[("gateway_in_flight", ())] == 0.0  # present even before any request


def test_a_full_store_keeps_serving(tmp_path, monkeypatch):
    monkeypatch.setattr(metrics, "CELLS", 40)
    m = metrics.GatewayMetrics(str(tmp_path))
    for i in range(10):  # 17 cells per histogram: only the first fits
        m.observe_request("r", f"model{i}", 200, 0.01)
    got = _samples(metrics.exposition(metrics.collect(str(tmp_path))))
    assert got[("gateway_request_seconds_count", (("model", "model0"), ("route", "r")))] == 1
    assert ("gateway_request_seconds_count", (("model", "model9"), ("route", "r"))) not in got
