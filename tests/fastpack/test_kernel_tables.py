"""Resampling tables: indices inside the source, weights that preserve flat images, caching."""
import numpy as np
import pytest

from fastpack import _kernel_tables as tables

SIZES = [(1, 1), (1, 7), (7, 1), (5, 5), (10, 3), (3, 10), (375, 299), (299, 375), (1080, 299), (2, 16384)]


@pytest.mark.parametrize("filter_", ["bilinear", "nearest", "area", "triangle"])
@pytest.mark.parametrize("in_size, out_size", SIZES)
def test_tables_stay_inside_the_source(filter_, in_size, out_size):
    table = tables.axis_table(filter_, in_size, out_size)
    assert table.index.shape == table.weight.shape == (out_size, table.taps)
    assert table.index.dtype == np.int32 and table.weight.dtype == np.float32
    assert table.index.min() >= 0 and table.index.max() < in_size
    assert np.all(table.count >= 1) and np.all(table.count <= table.taps)
    assert not table.index.flags.writeable and not table.weight.flags.writeable
    if table.kind == tables.KIND_LERP:
        assert np.all((table.weight[:, 0] >= 0) & (table.weight[:, 0] < 1))
        assert np.all(table.index[:, 1] - table.index[:, 0] <= 1)
    else:
        used = np.arange(table.taps)[None, :] < table.count[:, None]
        assert np.all(table.weight[~used] == 0)
        # each output's taps are a contiguous source run (the kernel caches on that)
        steps = np.diff(table.index, axis=1)
        assert np.all(((steps >= 0) & (steps <= 1)) | ~used[:, 1:])


@pytest.mark.parametrize("filter_", ["nearest", "triangle"])
@pytest.mark.parametrize("in_size, out_size", SIZES)
def test_weights_sum_to_one(filter_, in_size, out_size):
    table = tables.axis_table(filter_, in_size, out_size)
    np.testing.assert_allclose(table.weight.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("in_size, out_size", SIZES)
def test_area_weights_cover_the_interval(in_size, out_size):
    """Each output covers in/out source pixels; with the post scale a flat image stays flat."""
    table = tables.axis_table("area", in_size, out_size)
    # (the edge weights are float32 differences of positions up to in_size, as in TF)
    np.testing.assert_allclose(table.weight.sum(axis=1), in_size / out_size, rtol=1e-4)


def test_antialias_only_changes_bilinear():
    assert tables.filter_name("bilinear", True) == "triangle"
    assert tables.filter_name("bilinear", False) == "bilinear"
    assert tables.filter_name("nearest", True) == "nearest"
    assert tables.filter_name("area", True) == "area"
    assert tables.uses_vertical_first("triangle") and not tables.uses_vertical_first("area")


def test_triangle_upscaling_is_bilinear_weights():
    lerp = tables.axis_table("bilinear", 6, 17)
    tri = tables.axis_table("triangle", 6, 17)
    for x in range(17):
        dense_lerp = np.zeros(6)
        dense_lerp[lerp.index[x, 0]] += 1 - lerp.weight[x, 0]
        dense_lerp[lerp.index[x, 1]] += lerp.weight[x, 0]
        dense_tri = np.zeros(6)
        np.add.at(dense_tri, tri.index[x], tri.weight[x])
        np.testing.assert_allclose(dense_tri, dense_lerp, atol=1e-6)


def test_tables_are_cached():
    tables.axis_table.cache_clear()
    first = tables.axis_table("area", 640, 224)
    assert tables.axis_table("area", 640, 224) is first
    assert tables.axis_table.cache_info().hits == 1
