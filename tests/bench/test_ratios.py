"""Ratios between interleaved repetitions of two contenders."""
import pytest

from bench.ratios import median, paired, peer_ratios


def test_median_ignores_missing_values():
    assert median([3.0, None, 1.0, 2.0]) == 2.0 and median([None]) is None


def test_paired_gives_ratio_of_medians_and_each_pairs_ratio():
    mine = [{"cpu": 1.0}, {"cpu": 2.0}, {"cpu": 3.0}]
    theirs = [{"cpu": 4.0}, {"cpu": 4.0}, {"cpu": 5.0}]
    out = paired(mine, theirs, "cpu")
    assert out["ratio"] == pytest.approx(2.0 / 4.0)
    assert out["per_rep"] == pytest.approx([0.25, 0.5, 0.6])
    assert (out["low"], out["high"]) == (pytest.approx(0.25), pytest.approx(0.6))


def test_peer_ratios_of_a_scenario_and_a_missing_peer():
    sc = {"closed": {"repetitions": [{"cpu_ms_per_request": 1.0, "p50": 5.0, "p99": 10.0}]},
          "baselines": {"kserve": {"repetitions": [
              {"cpu_ms_per_request": 4.0, "p50": 10.0, "p99": 40.0}]}}}
    out = peer_ratios(sc, "kserve")
    assert out["cpu"]["ratio"] == 0.25 and out["p99"]["ratio"] == 0.25 and out["p50"]["ratio"] == 0.5
    assert peer_ratios(sc, "kserve_lean") is None
