"""API keys kept hashed, JWT checks (HS256, RS256, claims), token buckets, the open-route list."""
import base64
import hashlib
import hmac
import json

import pytest

from sanic_app.errors import ConfigError
from sanic_app.http.auth import is_open
from sanic_app.ops.credentials import InvalidToken, JwtVerifier, KeyStore, parse_key_entry
from sanic_app.ops.ratelimit import RateLimiter


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(claims, alg):
    return _b64(json.dumps({"alg": alg}).encode()) + "." + _b64(json.dumps(claims).encode())


def test_keys_are_stored_hashed_and_identified():
    store = KeyStore.load(None, "a:0123456789abcdef,b:sha256:" + hashlib.sha256(b"fedcba9876543210").hexdigest())
    assert all(len(digest) == 32 for _, digest in store.entries)
    assert "0123456789abcdef" not in repr(store.entries)
    assert store.identify("0123456789abcdef") == "a"
    assert store.identify("fedcba9876543210") == "b"
    assert store.identify("0123456789abcdeX") is None


@pytest.mark.parametrize("entry", ["nocolon", "a:short", "a:sha256:xyz", "bad id:0123456789abcdef"])
def test_bad_key_entries_are_refused_without_echoing_the_secret(entry):
    with pytest.raises(ConfigError) as caught:
        parse_key_entry(entry, "here")
    assert "0123456789abcdef" not in str(caught.value)


def test_hs256_and_claims():
    secret = b"k" * 32
    jwt = JwtVerifier(secret, audience="gw", issuer="me")

    def token(claims, key=secret):
        head = _unsigned(claims, "HS256")
        return head + "." + _b64(hmac.new(key, head.encode(), hashlib.sha256).digest())

    good = {"sub": "svc", "aud": ["gw", "x"], "iss": "me", "exp": 2000, "nbf": 900}
    assert jwt.verify(token(good), now=1000) == "jwt:svc"
    for claims, now in [({**good, "exp": 900}, 1000), ({**good, "nbf": 1100}, 1000),
                        ({**good, "aud": "other"}, 1000), ({**good, "iss": "you"}, 1000)]:
        with pytest.raises(InvalidToken):
            jwt.verify(token(claims), now=now)
    with pytest.raises(InvalidToken, match="signature"):
        jwt.verify(token(good, b"z" * 32), now=1000)
    with pytest.raises(InvalidToken, match="algorithm"):
        jwt.verify(_unsigned(good, "none") + ".", now=1000)


def test_rs256():
    pytest.importorskip("cryptography")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    jwt = JwtVerifier(rs256_public_pem=pem)
    head = _unsigned({"sub": "r"}, "RS256")
    signature = key.sign(head.encode(), padding.PKCS1v15(), hashes.SHA256())
    assert jwt.verify(head + "." + _b64(signature)) == "jwt:r"
    with pytest.raises(InvalidToken):
        jwt.verify(head + "." + _b64(signature[:-1] + bytes([signature[-1] ^ 1])))
    # An HS256 token "signed" with the public key must not pass (algorithm confusion).
    hs_head = _unsigned({"sub": "r"}, "HS256")
    with pytest.raises(InvalidToken, match="algorithm"):
        jwt.verify(hs_head + "." + _b64(hmac.new(pem, hs_head.encode(), hashlib.sha256).digest()))


def test_token_bucket_both_sides():
    now = [0.0]
    limiter = RateLimiter(rate=2.0, burst=3, clock=lambda: now[0])
    assert [limiter.retry_after("a") for _ in range(4)] == [0, 0, 0, 1]
    assert limiter.retry_after("b") == 0  # per caller
    now[0] += 0.5  # one token back at 2/s
    assert limiter.retry_after("a") == 0 and limiter.retry_after("a") == 1


def test_open_routes():
    assert is_open("/healthz", "GET", True) and is_open("/v2/health/ready", "GET", True)
    assert is_open("/metrics", "GET", True) and not is_open("/metrics", "GET", False)
    assert is_open("/v1/models/m:predict", "OPTIONS", True)  # preflights carry no credentials
    for path in ("/v1/models/m:predict", "/v1/models/m", "/v2/models/m/infer", "/v2/models/m", "/anything"):
        assert not is_open(path, "POST", True), path
