"""TLS and mTLS to the backend: the embedded backend serves TLS with certificates made here;
the right CA (and client certificate) gets answers, a wrong CA a 503 with the reason logged."""
import datetime
import ipaddress
import json

import grpc
import pytest
from ops_support import GOOD_BODY

x509 = pytest.importorskip("cryptography.x509")
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

MODELS = ("good", "wrongca", "nocert")


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject, key, issuer, issuer_key, *, ca=False, server=False):
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _write(directory, stem, key, cert):
    (directory / f"{stem}.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (directory / f"{stem}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA, a server certificate for 127.0.0.1 it signed, a client certificate, and a stranger CA."""
    d = tmp_path_factory.mktemp("pki")
    ca_key, other_key, server_key, client_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(4))
    _write(d, "ca", ca_key, _cert("test ca", ca_key, "test ca", ca_key, ca=True))
    _write(d, "other", other_key, _cert("stranger ca", other_key, "stranger ca", other_key, ca=True))
    _write(d, "server", server_key, _cert("localhost", server_key, "test ca", ca_key, server=True))
    _write(d, "client", client_key, _cert("gateway", client_key, "test ca", ca_key))
    return d


def _spec(directory, name, target, tls=None):
    doc = {"model": {"name": name},
           "inputs": {"x": {"kind": "tensor", "dtype": "float32", "shape": [-1, 4]}},
           "outputs": {"y": {"postprocess": "raw"}}}
    if target:
        doc["target"] = {"addresses": [target], "tls": tls}
    path = directory / f"{name}.json"
    path.write_text(json.dumps(doc))
    return str(path)


@pytest.fixture(scope="module")
def tls_backend(pki, localserve_factory):
    models = [arg for m in MODELS for arg in ("--null_model", f"{m}:x=float32[-1,4]:y=float32[-1,2]")]
    probe = grpc.ssl_channel_credentials((pki / "ca.pem").read_bytes(), (pki / "client.key").read_bytes(),
                                         (pki / "client.pem").read_bytes())
    with localserve_factory(*models, "--ssl_cert", str(pki / "server.pem"), "--ssl_key", str(pki / "server.key"),
                            "--ssl_client_ca", str(pki / "ca.pem"), probe_credentials=probe) as backend:
        yield backend


@pytest.mark.slow
def test_spec_targets_with_tls_mtls_and_a_wrong_ca(pki, tls_backend, gateway_factory, tmp_path):
    # Spec paths are relative to the spec file: the specs sit next to the certificates.
    mtls = {"ca": "ca.pem", "cert": "client.pem", "key": "client.key"}
    specs = [_spec(pki, "good", tls_backend.target, mtls),
             _spec(pki, "wrongca", tls_backend.target, {**mtls, "ca": "other.pem"}),
             _spec(pki, "nocert", tls_backend.target, {"ca": "ca.pem"})]
    args = [a for s in specs for a in ("--spec", s)]
    with gateway_factory(*args, "--no-passthrough") as gw:
        good = gw.post("/v1/models/good:predict", content=GOOD_BODY)
        assert good.status_code == 200, good.text
        assert len(good.json()["predictions"]) == 1
        wrong = gw.post("/v1/models/wrongca:predict", content=GOOD_BODY)
        assert wrong.status_code == 503, wrong.text
        # mTLS: the backend wants a client certificate; without one the handshake fails too.
        assert gw.post("/v1/models/nocert:predict", content=GOOD_BODY).status_code == 503
        assert gw.post("/v1/models/good:predict", content=GOOD_BODY).status_code == 200  # worker lives on
        log = gw.log_text()
        print([line for line in log.splitlines() if "TLS to backend" in line][:1])
        assert f"TLS to backend {tls_backend.target} failed" in log
        assert "CERTIFICATE_VERIFY_FAILED" in log.upper() or "certificate verify failed" in log.lower(), log[-3000:]


@pytest.mark.slow
def test_target_flags_ask_for_mtls(pki, tls_backend, gateway_factory, tmp_path):
    spec = _spec(tmp_path, "good", None)
    with gateway_factory("--spec", spec, "--target", tls_backend.target, "--target-ca", str(pki / "ca.pem"),
                         "--target-cert", str(pki / "client.pem"), "--target-key", str(pki / "client.key")) as gw:
        answer = gw.post("/v1/models/good:predict", content=GOOD_BODY)
        assert answer.status_code == 200, answer.text
        # Pass-through (metadata from the backend) rides the same TLS channel.
        assert gw.post("/v1/models/nocert:predict", content=GOOD_BODY).status_code == 200
