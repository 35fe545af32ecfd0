"""Backend address forms: host:port, [v6]:port, dns:[//resolver/]host:port, unix:PATH; one rule
for --target and spec targets, repeated in the published schema."""
import json

import jsonschema
import pytest
from gateway_process import SPECS

from sanic_app.core import backend_target
from sanic_app.cli import parse_settings
from sanic_app.errors import ConfigError, SpecError
from sanic_app.core.spec import parse_spec

GOOD = ["tfs:8500", "10.0.0.1:8500", "[::1]:8500", "tfserving.ml.svc.cluster.local:8500",
        "dns:///tfserving:8500", "dns://127.0.0.1:5353/tfserving:8500",
        "unix:/run/tfserving/tfserving.sock", "unix:///run/tfserving/tfserving.sock", "unix:rel/tfs.sock"]
BAD = ["tfs", "tfs:", ":8500", "tfs:port", "tfs:70000", "tfs:0", "http://tfs:8500", "dns:///tfs",
       "unix:", "unix:///", "tcp://10.0.0.1:8500", "tfs:85 00"]


@pytest.mark.parametrize("address", GOOD)
def test_accepted_everywhere(address):
    assert backend_target.check(address) == address
    assert parse_settings(["--target", address], {}).target == address
    spec = {"model": {"name": "m"}, "target": {"addresses": [address]},
            "inputs": {"x": {"kind": "tensor", "dtype": "float32", "shape": [-1, 1]}}}
    assert parse_spec(spec).target.addresses == (address,)
    jsonschema.validate(spec, json.loads((SPECS / "schema.json").read_text()))


@pytest.mark.parametrize("address", BAD)
def test_refused_with_the_forms_named(address):
    with pytest.raises(ValueError):
        backend_target.check(address)
    with pytest.raises(ConfigError) as info:
        parse_settings([], {"GATEWAY_TARGET": address})
    assert "GATEWAY_TARGET" in str(info.value)
    spec = {"model": {"name": "m"}, "target": {"addresses": [address]},
            "inputs": {"x": {"kind": "tensor", "dtype": "float32", "shape": [-1, 1]}}}
    with pytest.raises(SpecError) as info:
        parse_spec(spec)
    assert info.value.path == "target.addresses[0]"


def test_the_schema_repeats_the_one_pattern():
    schema = json.loads((SPECS / "schema.json").read_text())
    items = schema["properties"]["target"]["properties"]["addresses"]["items"]
    assert items["pattern"] == backend_target.PATTERN
