"""target.tls in specs and --target-* flags: paths resolved next to the spec, bad ones named."""
import pytest

from sanic_app.cli import parse_settings
from sanic_app.core.spec import parse_spec
from sanic_app.core.tls import TlsSpec, is_tls_failure
from sanic_app.errors import ConfigError, SpecError

DOC = {"model": {"name": "m"}, "inputs": {"x": {"kind": "tensor", "dtype": "float32", "shape": [-1, 4]}}}


def with_tls(tls):
    return {**DOC, "target": {"addresses": ["tfs:8500"], "tls": tls}}


def test_tls_paths_are_relative_to_the_spec(tmp_path):
    for name in ("ca.pem", "c.pem", "c.key"):
        (tmp_path / name).write_text("x")
    spec = parse_spec(with_tls({"ca": "ca.pem", "cert": "c.pem", "key": "c.key", "server_name": "tfs"}),
                      "s.json", tmp_path)
    assert spec.target.tls == TlsSpec(str(tmp_path / "ca.pem"), str(tmp_path / "c.pem"),
                                      str(tmp_path / "c.key"), "tfs")
    assert parse_spec(with_tls({}), "s.json", tmp_path).target.tls == TlsSpec()  # system roots
    assert parse_spec(DOC, "s.json", tmp_path).target is None


@pytest.mark.parametrize("tls, field", [
    ({"ca": "missing.pem"}, "target.tls.ca"),
    ({"cert": "c.pem"}, "target.tls.key"),
    ({"ca": "c.pem", "pin": "x"}, "target.tls.pin"),
])
def test_bad_tls_is_named(tmp_path, tls, field):
    (tmp_path / "c.pem").write_text("x")
    with pytest.raises(SpecError) as caught:
        parse_spec(with_tls(tls), "s.json", tmp_path)
    assert field in str(caught.value)


def test_target_flags(tmp_path):
    (tmp_path / "ca.pem").write_text("x")
    assert parse_settings(["--target", "t:1"], {}).target_tls_spec is None
    assert parse_settings(["--target", "t:1", "--target-tls"], {}).target_tls_spec == TlsSpec()
    assert parse_settings(["--target", "t:1", "--target-ca", str(tmp_path / "ca.pem")], {}).target_tls_spec.ca
    with pytest.raises(ConfigError, match="--target"):
        parse_settings(["--target-ca", str(tmp_path / "ca.pem")], {})
    with pytest.raises(ConfigError, match="no readable file"):
        parse_settings(["--target", "t:1", "--target-ca", str(tmp_path / "nope.pem")], {})


def test_tls_failures_are_recognised():
    assert is_tls_failure("Tls handshake failed (TSI_PROTOCOL_FAILURE): CERTIFICATE_VERIFY_FAILED")
    assert not is_tls_failure("failed to connect to all addresses; Connection refused")
