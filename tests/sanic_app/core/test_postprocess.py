"""softmax, top-k with labels, plug-ins."""
import numpy as np
import pytest

from sanic_app.core import postprocess
from sanic_app.errors import GatewayError
from sanic_app.core.spec import OutputSpec


def test_softmax_rows_sum_to_one_and_survive_large_scores():
    p = postprocess.softmax(np.array([[1000.0, 1000.0], [0.0, np.log(3.0)]], np.float32))
    np.testing.assert_allclose(p, [[0.5, 0.5], [0.25, 0.75]], rtol=1e-6)
    assert p.dtype == np.float32


def test_topk_orders_best_first_with_labels():
    scores = np.array([[0.1, 0.5, 0.2, 0.9], [0.4, 0.3, 0.2, 0.1]], np.float32)
    rows = postprocess.topk(scores, 2, ("a", "b", "c"))
    assert [[i["class"] for i in row] for row in rows] == [[3, 1], [0, 1]]
    assert "label" not in rows[0][0] and rows[0][1]["label"] == "b"  # class 3 has no label
    assert float(rows[1][0]["score"]) == pytest.approx(0.4)
    assert len(postprocess.topk(scores, 10)[0]) == 4
    assert [i["class"] for i in postprocess.topk(scores[0], 1)] == [3]


def test_apply_dispatches_and_wraps_plugin_errors():
    arr = np.array([[1.0, 2.0]], np.float32)
    assert postprocess.apply(OutputSpec("o"), arr) is arr
    doubled = postprocess.apply(OutputSpec("o", "plugin", plugin=lambda a, spec: (a * 2).tolist()), arr)
    assert doubled == [[2.0, 4.0]]

    def broken(a, spec):
        raise KeyError("x")

    with pytest.raises(GatewayError, match="plug-in for output 'o' failed: KeyError") as info:
        postprocess.apply(OutputSpec("o", "plugin", plugin=broken), arr)
    assert info.value.status == 500
