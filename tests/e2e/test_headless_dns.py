"""Several TF Serving replicas behind one DNS name, as a headless Service gives them: a resolver
on loopback answers 127.0.0.2, .3, .4; the gateway's dns:// target (gRPC's c-ares resolver,
pointed at that resolver) spreads calls over all of them with round_robin; one replica is
killed under traffic and the others take over with no errors beyond the calls in flight."""
import concurrent.futures
import json
import os
import signal
import socket

import pytest
from dns_stub import DnsStub
from ops_support import GOOD_BODY

from sanic_app.localserve.process import LocalServe

REPLICAS = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
PREDICT = "/v1/models/m:predict"


def _port_free_on_all(addresses) -> int:
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind((addresses[0], 0))
            port = probe.getsockname()[1]
        try:
            for address in addresses[1:]:
                with socket.socket() as s:
                    s.bind((address, port))
            return port
        except OSError:
            continue
    raise RuntimeError("no port free on every replica address")


def _spec(tmp_path, target: str) -> str:
    doc = {"model": {"name": "m"}, "target": {"addresses": [target], "deadline_ms": 5000},
           "inputs": {"x": {"kind": "tensor", "dtype": "float32", "shape": [-1, 4]}},
           "outputs": {"y": {"postprocess": "raw"}}}
    path = tmp_path / "m.json"
    path.write_text(json.dumps(doc))
    return str(path)


def _which(response) -> int:
    """Replica i answers y of width i + 1, so the answer says who served it."""
    assert response.status_code == 200, response.text
    return len(response.json()["predictions"][0]) - 1


@pytest.mark.slow
def test_calls_spread_over_every_replica_and_survive_one_killed(tmp_path, gateway_factory):
    port = _port_free_on_all(REPLICAS)
    replicas = [LocalServe("--host", address, "--port", str(port),
                           "--null_model", f"m:x=float32[-1,4]:y=float32[-1,{i + 1}]")
                for i, address in enumerate(REPLICAS)]
    with DnsStub("tfserving.test.", REPLICAS) as resolver:
        try:
            for replica in replicas:
                replica.start()
            target = f"dns://{resolver.authority()}/tfserving.test:{port}"
            with gateway_factory("--workers", "1", "--spec", _spec(tmp_path, target), "--no-passthrough",
                                 env={"GRPC_DNS_RESOLVER": "ares"}) as gw:
                served = [_which(gw.post(PREDICT, content=GOOD_BODY)) for _ in range(60)]
                counts = [served.count(i) for i in range(len(REPLICAS))]
                assert resolver.queries >= 1
                assert min(counts) >= 12, counts  # round_robin: about 20 each

                # The pod of replica 0 dies (SIGKILL: no goodbye) while 4 clients keep calling;
                # the endpoints controller drops it from DNS.
                def call(_):
                    return gw.post(PREDICT, content=GOOD_BODY)

                with concurrent.futures.ThreadPoolExecutor(4) as pool:
                    before = [pool.submit(call, i) for i in range(20)]
                    os.kill(replicas[0].pid, signal.SIGKILL)
                    resolver.addresses = REPLICAS[1:]
                    after_kill = [f.result() for f in before]
                    failed = [r for r in after_kill if r.status_code != 200]
                    assert len(failed) <= 4, [r.text for r in failed]  # only calls in flight on it
                    for r in failed:
                        assert r.status_code in (503, 504), r.text  # mapped, not leaked
                    settled = [pool.submit(call, i) for i in range(40)]
                    served = [_which(f.result()) for f in settled]
                assert set(served) == {1, 2}, served  # the killed replica is out of rotation
                assert min(served.count(1), served.count(2)) >= 8, served
                assert gw.get("/readyz").status_code == 200
        finally:
            for replica in replicas:
                replica.stop()
