"""Two backend replicas behind one model: round-robin spreads calls; one dies, the other takes all."""

import pytest
from ops_support import GOOD_BODY, CountingBackend, write_spec

PREDICT = "/v1/models/m:predict"


@pytest.mark.slow
def test_two_replicas_share_traffic_and_survive_one_loss(tmp_path, gateway_factory):
    first, second = CountingBackend().start(), CountingBackend().start()
    try:
        spec = write_spec(tmp_path, addresses=[first.target, second.target])
        with gateway_factory("--workers", "1", "--spec", spec, "--no-passthrough") as gw:
            for _ in range(40):
                assert gw.post(PREDICT, content=GOOD_BODY).status_code == 200
            # round_robin: an even split, give or take the first picks.
            assert first.predicts + second.predicts == 40
            assert min(first.predicts, second.predicts) >= 15, (first.predicts, second.predicts)
            served = {gw.post(PREDICT, content=GOOD_BODY).json()["predictions"][0][0] for _ in range(4)}
            assert served == {float(first.port), float(second.port)}  # answers really come from both

            first.stop()
            lost = first.predicts
            before = second.predicts
            statuses = [gw.post(PREDICT, content=GOOD_BODY).status_code for _ in range(30)]
            assert statuses == [200] * 30  # a call that found the dead one is retried, never sent twice
            assert first.predicts == lost
            assert second.predicts == before + 30
            assert gw.get("/readyz").status_code == 200
    finally:
        first.stop()
        second.stop()


@pytest.mark.slow
def test_a_host_name_target_resolves_and_balances(tmp_path, gateway_factory):
    backend = CountingBackend().start()  # "localhost" is 127.0.0.1 in /etc/hosts here
    try:
        spec = write_spec(tmp_path, addresses=[f"localhost:{backend.port}"])
        with gateway_factory("--workers", "1", "--spec", spec, "--no-passthrough") as gw:
            assert [gw.post(PREDICT, content=GOOD_BODY).status_code for _ in range(5)] == [200] * 5
            assert backend.predicts == 5
    finally:
        backend.stop()
