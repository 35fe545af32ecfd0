"""Smoke test: bench/run_load.py end to end for a few seconds on the small-tensor scenario.

Real processes throughout (null backend, 2-worker gateway, bare-Sanic and direct-gRPC
baselines); checks the report's shape and that the figures are the kind of numbers they claim to
be, not their values (timings belong to the bench, never to a unit test).
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_run_load_writes_a_report_with_every_section(tmp_path):
    out = tmp_path / "report"
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "run_load.py"), "--scenarios", "tensor_f32x8",
         "--duration", "1.5", "--warmup", "0.5", "--concurrency", "8", "--rates", "0.5", "--repeat", "1",
         "--baselines", "bare,grpc", "--out", str(out)],
        capture_output=True, text=True, timeout=220, cwd=REPO)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())

    sc = results["scenarios"]["tensor_f32x8"]
    assert sc["probe"]["status"] == 200
    closed = sc["closed"]
    assert closed["requests"] > 50 and closed["rps"] > 0
    assert closed["statuses"].get("200") == closed["requests"], closed["statuses"]
    lat = closed["latency_ms"]
    assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"]
    assert 0 < closed["cpu_ms_per_request"] < 100
    assert closed["minflt_per_request"] >= 0 and closed["same_process_tree"]
    assert 0 < closed["generator_cpu_share"] < 2
    machine = closed["machine"]
    assert machine["busy_cores"] >= machine["service_cores"] > 0 and "backend_cores" in machine
    assert closed["threads"] and all(t["cpu_ms_per_request"] >= 0 for t in closed["threads"].values())
    [half] = sc["open"]
    assert half["fraction"] == 0.5 and sc["half_rate"] == half
    assert 0.3 * closed["rps"] < half["rps"] < 0.7 * closed["rps"]
    assert len(sc["rss_mb_per_worker"]) == 2 and all(v > 10 for v in sc["rss_mb_per_worker"])

    bare, grpc = sc["baselines"]["bare_sanic"], sc["baselines"]["direct_grpc"]
    assert bare["statuses"] == {"200": bare["requests"]} and bare["cpu_ms_per_request"] > 0
    assert grpc["calls"] > 0 and not grpc["errors"] and grpc["client_cpu_ms_per_call"] > 0

    targets = {t["name"]: t for t in results["targets"]}
    ratio = targets["f32[1,8]: gateway CPU/req ÷ direct gRPC client CPU/call"]
    assert ratio["value"] == pytest.approx(
        closed["cpu_ms_per_request"] / grpc["client_cpu_ms_per_call"])
    assert ratio["ok"] in (True, False)

    md = (out / "report.md").read_text()
    for heading in ("## Targets", "## Gateway", "## Per-stage breakdown", "## Gateway CPU by thread",
                    "## Where the tail comes from", "## Baselines"):
        assert heading in md
    assert "| tensor_f32x8 |" in md
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return
    assert (out / "latency.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_scaling_rows_write_medians_plots_and_findings(tmp_path):
    """run_load.py --scaling on two cheap rows with tiny windows: the section's shape only."""
    out = tmp_path / "scaling"
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "run_load.py"), "--scenarios", "", "--baselines", "none",
         "--scaling", "--scaling-rows", "concurrency,workers", "--scaling-repeat", "1",
         "--scaling-duration", "0.3", "--scaling-warmup", "0.1", "--out", str(out)],
        capture_output=True, text=True, timeout=220, cwd=REPO)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    scaling = json.loads((out / "results.json").read_text())["scaling"]
    assert set(scaling["rows"]) == {"concurrency", "workers"}
    limits = scaling["meta"]["limits"]
    assert limits["--max-image-pixels"]["largest_request"] == 4000 * 3000  # the 12 Mpx JPEG
    assert all(v["used"] >= max(v["default"], v["largest_request"]) for v in limits.values())
    conc = scaling["rows"]["concurrency"]["points"]
    assert [p["x"] for p in conc] == [1, 2, 4, 8, 16, 32, 64, 128, 256]
    for p in conc + scaling["rows"]["workers"]["points"]:
        assert not p.get("error") and p["rps"] > 0 and 0 < p["cpu_ms_per_request"] < 100
        assert 0 < p["p50"] <= p["p99"]
    assert [p["x"] for p in scaling["rows"]["workers"]["points"]][0] == 1
    md = (out / "report.md").read_text()
    assert "## Scaling: how the cost grows" in md and "### Concurrency" in md
    assert "CPU per request" in md and "Little's law" in md


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_sidecar_flag_adds_a_gateway_that_reaches_the_backend_over_a_unix_socket(tmp_path):
    """--sidecar: a second gateway whose only way to the backend is the socket answers every
    image request, in its own row; the tensor scenario (not an image one) runs without it."""
    out = tmp_path / "sidecar"
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "run_load.py"), "--scenarios",
         "jpeg_500x375,tensor_f32x8", "--duration", "0.5", "--warmup", "0.2", "--concurrency", "4",
         "--repeat", "1", "--baselines", "none", "--sidecar", "--out", str(out)],
        capture_output=True, text=True, timeout=220, cwd=REPO)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    socket = results["meta"]["sidecar"]
    assert socket.startswith("unix:/tmp/sidecar-") and socket.endswith("/tfserving.sock")
    backend_log = (out / "logs" / "backend.log").read_text()
    assert f'"socket": "{socket}"' in backend_log  # the backend served it
    image, tensor = results["scenarios"]["jpeg_500x375"], results["scenarios"]["tensor_f32x8"]
    side = image["sidecar"]["closed"]
    assert side["requests"] > 0 and side["statuses"] == {"200": side["requests"]}
    assert 0 < side["cpu_ms_per_request"] < 100 and side["stages"]["stages"]
    assert image["sidecar"]["half_rate"]["fraction"] == 0.5
    assert len(image["sidecar"]["rss_mb_per_worker"]) == 2
    assert image["closed"]["statuses"] == {"200": image["closed"]["requests"]}  # TCP one too
    assert "sidecar" not in tensor and tensor["closed"]["requests"] > 0
    md = (out / "report.md").read_text()
    assert "| jpeg_500x375, gateway (sidecar: Unix socket) |" in md
    assert "- jpeg_500x375: CPU/req" in md and "tensor_f32x8, gateway (sidecar" not in md
