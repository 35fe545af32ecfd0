"""The sidecar contender's results: which scenarios it runs on, the view that lets the gateway's
tables read it, its ratio to the TCP gateway, and the spec files that point it at the socket."""
from pathlib import Path

import pytest

from bench import scenarios, sidecar
from bench.served_models import Models
from sanic_app.core.spec import load_spec

REPO = Path(__file__).resolve().parents[2]


def reps(*cpu_p99):
    return [{"cpu_ms_per_request": c, "p50": p / 2, "p99": p} for c, p in cpu_p99]


def scenario(with_sidecar=True):
    sc = {"closed": {"repetitions": reps((2.0, 10.0), (2.0, 12.0))}, "half_rate": {"tcp": 1},
          "rss_mb_per_worker": [80.0], "baselines": {"kserve": {"repetitions": reps((4.0, 20.0))}}}
    if with_sidecar:
        sc[sidecar.KEY] = {"closed": {"repetitions": reps((1.8, 8.0), (1.6, 12.0))},
                           "half_rate": {"socket": 1}, "rss_mb_per_worker": [81.0]}
    return sc


def test_runs_on_the_image_scenarios_only():
    ran = {name for name, sc in scenarios.SCENARIOS.items() if sidecar.applies(sc)}
    assert ran == {"jpeg_500x375", "jpeg_1920x1080", "jpeg_batch8", "multipart"}


def test_view_swaps_in_the_sidecars_windows_and_keeps_the_baselines():
    sc = scenario()
    seen = sidecar.view(sc)
    assert seen["closed"] is sc[sidecar.KEY]["closed"] and seen["half_rate"] == {"socket": 1}
    assert seen["rss_mb_per_worker"] == [81.0] and seen["baselines"] is sc["baselines"]
    assert sc["closed"]["repetitions"][0]["cpu_ms_per_request"] == 2.0  # the TCP figures stay
    assert sidecar.measured(sc) and not sidecar.measured(scenario(with_sidecar=False))
    assert sidecar.view(scenario(with_sidecar=False))["closed"] is None


def test_against_tcp_pairs_each_sidecar_window_with_the_tcp_one():
    ratios = sidecar.against_tcp(scenario())
    assert ratios["cpu"]["ratio"] == pytest.approx(1.7 / 2.0)
    assert ratios["cpu"]["per_rep"] == pytest.approx([0.9, 0.8])
    assert ratios["p99"]["per_rep"] == pytest.approx([0.8, 1.0])
    assert sidecar.against_tcp(scenario(with_sidecar=False)) is None


def test_moved_models_get_their_own_specs_pointing_at_the_socket(tmp_path):
    models = Models(REPO / "specs" / "inceptionv3.json", tmp_path)
    models.write_specs("127.0.0.1:8500")
    side = models.moved_to(tmp_path / sidecar.KEY)
    side.write_specs("unix:/tmp/sidecar-x/tfserving.sock")
    assert side.image_spec.parent == tmp_path / sidecar.KEY != models.image_spec.parent
    for mine, theirs in ((side.image_spec, models.image_spec), (side.tiny_spec, models.tiny_spec)):
        socket_spec, tcp_spec = load_spec(str(mine)), load_spec(str(theirs))
        assert socket_spec.target.addresses == ("unix:/tmp/sidecar-x/tfserving.sock",)
        assert tcp_spec.target.addresses == ("127.0.0.1:8500",)
        assert socket_spec.inputs == tcp_spec.inputs
