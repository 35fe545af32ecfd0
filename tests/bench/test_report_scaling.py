"""The scaling section of the load report, rendered from a synthetic results dict."""
import pytest

from bench import report, report_scaling, scaling


def synthetic() -> dict:
    def pts(xs, cpu, p50, rps, **extra):
        return [{"x": x, "cpu_ms_per_request": cpu(x), "p50": p50(x), "p99": 2 * p50(x),
                 "rps": rps(x), "reps": [{"cpu_ms_per_request": cpu(x), "body_bytes": 1000}],
                 **{k: f(x) for k, f in extra.items()}} for x in xs]

    return {
        "meta": {}, "scenarios": {},
        "scaling": {
            "meta": {"duration_s": 2.0, "warmup_s": 0.5, "repeat": 2, "workers": 2,
                     "concurrency": 2, "workers_concurrency": 32, "cores": 2, "elapsed_s": 300,
                     "limits": {"--max-body-bytes": {"default": 64, "largest_request": 3,
                                                     "used": 64}}},
            "rows": {
                "batch": {"points": pts([1, 2, 4, 8, 16], lambda x: 0.5 + 1.5 * x,
                                        lambda x: 2 + 3 * x, lambda x: 600 / x,
                                        rss_mb=lambda x: 80 + x, peak_rss_mb=lambda x: 80 + 5 * x,
                                        minflt_per_request=lambda x: 0 if x < 16 else 1500.0),
                          "idle": [[72.0, 71.0]]},
                "concurrency": {"points": pts([1, 2, 4, 8, 16, 32], lambda x: 1.6,
                                              lambda x: 2 * max(1, x / 2), lambda x: 300 * min(x, 2))},
                "pixels": {"points": [{"x": 12, "error": "probe answered 413: too large",
                                       "reps": []}]},
            },
        },
    }


def test_markdown_states_linear_fixed_and_knee_from_the_data():
    text = "\n".join(report_scaling.markdown(synthetic()))
    assert "## Scaling: how the cost grows" in text and "`--max-body-bytes 64`" in text
    assert "CPU per request grows linearly: 0.5 ms fixed" in text and "1.5 ms per image" in text
    assert "Peak RSS per worker grows linearly" in text and "72, 71 MB" in text
    assert "Minor page faults per request (gateway, all processes): 1 → 0, 2 → 0" in text
    assert "16 → 1,500." in text
    assert "CPU per request does not grow with connections: 1.6 ms" in text
    assert "Throughput bends at a knee near 2 connections" in text
    assert "At 32 connections Little's law (connections ÷ throughput) predicts a mean latency of 53 ms (measured p50: 32 ms)" in text
    assert "| 12 | failed: probe answered 413" in text


def test_plots_are_pngs_listed_in_the_report(tmp_path):
    pytest.importorskip("matplotlib")
    results = synthetic()
    paths = report.write(results, tmp_path)
    for name in ("scaling-batch.png", "scaling-memory.png", "scaling-concurrency.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG" and name in paths
    md = (tmp_path / "report.md").read_text()
    assert "![batch](scaling-batch.png)" in md and "![batch](scaling-memory.png)" in md


def test_no_scaling_no_section():
    assert report_scaling.markdown({"scenarios": {}}) == []


@pytest.mark.parametrize("mpx", scaling.MEGAPIXELS)
def test_image_sizes_are_4_by_3_and_near_the_megapixels_asked(mpx):
    w, h = scaling.size_for(mpx)
    assert w % 2 == 0 and h % 2 == 0 and abs(w / h - 4 / 3) < 0.02
    assert abs(w * h / 1e6 - mpx) / mpx < 0.02


def test_memory_targets_come_from_the_batch_row():
    from bench.targets import targets

    found = {t["name"]: t for t in targets(synthetic())}
    peak = found["Scaling: peak RSS per worker at batch sizes 1-16, MB (max)"]
    assert peak["value"] == 80 + 5 * 16 and peak["ok"] is False
    idle = found["Scaling: RSS per worker idle after the batch row, MB (max)"]
    assert idle["value"] == 72.0 and idle["ok"] is True
