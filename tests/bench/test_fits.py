"""The fits behind the scaling report's sentences, on exact synthetic data."""
import pytest

from bench import fits


def test_line_recovers_fixed_and_per_unit_cost():
    xs = [1, 2, 4, 8, 16, 32, 64]
    line = fits.fit_line(xs, [0.8 + 1.5 * x for x in xs])
    assert line["fixed"] == pytest.approx(0.8) and line["per_unit"] == pytest.approx(1.5)
    assert line["r2"] == pytest.approx(1.0)
    assert fits.fit_line([1], [2]) is None and fits.fit_line([3, 3], [1, 2]) is None


def test_missing_points_are_skipped_and_order_does_not_matter():
    line = fits.fit_line([4, None, 1, 2], [9, 5, 3, 5])
    assert line["n"] == 3 and line["per_unit"] == pytest.approx(2.0)


def test_hinge_finds_the_knee_of_a_saturating_curve():
    xs = [1, 2, 4, 8, 16, 32, 64, 128, 256]
    ys = [100 * min(x, 8) for x in xs]  # throughput grows, then the server is full
    bend = fits.knee(xs, ys)
    assert bend["knee"] == 8
    assert bend["slope_before"] == pytest.approx(100) and bend["slope_after"] == pytest.approx(0, abs=1e-9)
    assert fits.shape(xs, ys)["kind"] == "knee"


def test_latency_that_queues_after_saturation_has_its_knee_there():
    xs = [1, 2, 4, 8, 16, 32, 64]
    ys = [2.0 if x <= 4 else 2.0 + 0.5 * (x - 4) for x in xs]
    assert fits.knee(xs, ys)["knee"] == 4


def test_a_straight_line_and_a_flat_one_have_no_knee():
    xs = [1, 2, 4, 8, 16, 32, 64]
    assert fits.knee(xs, [3 + 2 * x for x in xs]) is None
    assert fits.shape(xs, [3 + 2 * x for x in xs])["kind"] == "linear"
    noisy_flat = [2.0, 2.1, 1.95, 2.05, 2.0, 1.9, 2.1]
    assert fits.knee(xs, noisy_flat) is None and fits.shape(xs, noisy_flat)["kind"] == "flat"


def test_descriptions_name_the_shape_and_the_numbers():
    xs = [1, 2, 4, 8]
    assert "grows linearly: 1 ms fixed (33% of it at 1 image) + 2 ms per image" in fits.describe(
        xs, [1 + 2 * x for x in xs], "CPU per request", "image")
    assert "does not grow with connections: 5 ms on average" in fits.describe(
        xs, [5, 5, 5, 5], "CPU per request", "connection")
    assert "falls linearly" in fits.describe(xs, [20 - x for x in xs], "p50", "worker")
    assert "knee near 8 connections" in fits.describe([1, 2, 4, 8, 16, 32], [1, 2, 4, 8, 8, 8],
                                                      "req/s", "connection", "req/s")
    assert "too few" in fits.describe([1], [1], "x", "y")
    assert "no clear trend" in fits.describe(xs, [5, 1, 6, 2], "req/s", "connection", "req/s")
    assert "(two points: no fit)" in fits.describe([1, 2], [3, 5], "req/s", "worker")


def test_relative_weights_keep_the_fixed_cost_of_a_wide_row_positive():
    xs = [1, 2, 4, 8, 16, 32, 64]
    ys = [2.0, 2.8, 5.8, 10.0, 22.0, 50.0, 130.0]  # a little steeper at the top
    line = fits.fit_line(xs, ys)
    assert line["fixed"] > 0 and 1.2 < line["per_unit"] < 2.5
    text = fits.describe(xs, ys, "CPU per request", "image")
    assert "from 32 to 64 images: 2.5 ms per image" in text
