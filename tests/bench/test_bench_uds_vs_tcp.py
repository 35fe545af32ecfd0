"""The UDS-vs-TCP bench's specs are valid specs for both targets (its figures are in README)."""
from bench.micro.bench_uds_vs_tcp import write_spec

from sanic_app.core.spec import load_spec


def test_both_specs_load(tmp_path):
    tcp = load_spec(str(write_spec(tmp_path, "tcp", "127.0.0.1:8500")))
    uds = load_spec(str(write_spec(tmp_path, "socket", "unix:/tmp/uds-x/tfserving.sock")))
    assert tcp.target.addresses == ("127.0.0.1:8500",)
    assert uds.target.addresses == ("unix:/tmp/uds-x/tfserving.sock",)
    assert tcp.inputs == uds.inputs
