"""Keys, tokens, rates and CORS over a real gateway: 401 with WWW-Authenticate, 429 with
Retry-After, the key id (never the key) in the access line, preflights answered."""
import base64
import hashlib
import hmac
import json
import time

import pytest
from ops_support import GOOD_BODY, NULL_MODEL, write_spec

PREDICT = "/v1/models/m:predict"
ALICE = "alice-secret-0123456789"
CAROL = "carol-secret-0123456789"
BOB = "bob-secret-012345678901"
SECRET = b"s" * 40
ORIGIN = "https://app.example"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256(claims: dict, secret: bytes = SECRET, alg: str = "HS256") -> str:
    head = _b64(json.dumps({"alg": alg, "typ": "JWT"}).encode()) + "." + _b64(json.dumps(claims).encode())
    return head + "." + _b64(hmac.new(secret, head.encode(), hashlib.sha256).digest())


@pytest.fixture(scope="module")
def gw(tmp_path_factory, gateway_factory, localserve_factory):
    d = tmp_path_factory.mktemp("auth")
    # alice is stored hashed: the file holds no secret.
    (d / "keys").write_text(f"# id:secret or id:sha256:hex\nalice:sha256:{hashlib.sha256(ALICE.encode()).hexdigest()}\n"
                            f"bob:{BOB}\n")
    (d / "jwt.secret").write_bytes(SECRET)
    with localserve_factory("--null_model", NULL_MODEL) as backend:
        spec = write_spec(d, addresses=[backend.target])
        with gateway_factory("--spec", spec, "--no-passthrough", "--api-keys-file", str(d / "keys"),
                             "--jwt-secret-file", str(d / "jwt.secret"), "--rate-limit-rps", "1",
                             "--rate-limit-burst", "6", "--cors-origin", ORIGIN,
                             env={"GATEWAY_API_KEYS": f"carol:{CAROL}"}) as gateway:
            yield gateway


def log_with(gw, *needles, timeout=3.0):
    """The gateway's log once it holds every needle (access lines leave in batches)."""
    deadline = time.monotonic() + timeout
    while True:
        log = gw.log_text()
        if all(n in log for n in needles) or time.monotonic() > deadline:
            return log
        time.sleep(0.1)


def post(gw, **headers):
    return gw.post(PREDICT, content=GOOD_BODY, headers=headers)


@pytest.mark.slow
def test_keys_are_required_and_checked(gw):
    missing = post(gw)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith('Bearer realm="tfserving-gateway"')
    wrong = post(gw, authorization="Bearer not-a-key-at-all-1234")
    assert wrong.status_code == 401 and 'error="invalid_token"' in wrong.headers["www-authenticate"]
    assert post(gw, authorization=f"Bearer {ALICE}").status_code == 200
    assert post(gw, **{"x-api-key": CAROL}).status_code == 200  # from GATEWAY_API_KEYS
    assert gw.get("/v1/models/m").status_code == 401  # model routes too, not only predictions
    assert gw.get("/v1/models/m", headers={"x-api-key": ALICE}).status_code == 200
    # Open: probes, docs, metrics.
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
        assert gw.get(path).status_code != 401, path
    log = log_with(gw, '"key_id":"alice"', '"key_id":"carol"')
    assert '"key_id":"alice"' in log and '"key_id":"carol"' in log
    assert ALICE not in log and CAROL not in log


@pytest.mark.slow
def test_bearer_jwts(gw):
    now = int(time.time())
    assert post(gw, authorization="Bearer " + hs256({"sub": "svc-a", "exp": now + 60})).status_code == 200
    refused = {
        "expired": hs256({"sub": "svc-a", "exp": now - 3600}),
        "other secret": hs256({"sub": "svc-a"}, secret=b"x" * 40),
        "alg none": hs256({"sub": "svc-a"}, alg="none").rsplit(".", 1)[0] + ".",
        "RS256 claimed": hs256({"sub": "svc-a"}, alg="RS256"),
    }
    for why, token in refused.items():
        answer = post(gw, authorization="Bearer " + token)
        assert answer.status_code == 401, why
        assert "invalid token" in answer.json()["error"], why
    assert '"key_id":"jwt:svc-a"' in log_with(gw, '"key_id":"jwt:svc-a"')


@pytest.mark.slow
def test_rate_limit_per_key(gw):
    statuses = [post(gw, authorization=f"Bearer {BOB}") for _ in range(10)]
    codes = [a.status_code for a in statuses]
    assert codes[:6] == [200] * 6 and 429 in codes[6:], codes
    limited = next(a for a in statuses if a.status_code == 429)
    assert int(limited.headers["retry-after"]) >= 1
    assert post(gw, authorization=f"Bearer {ALICE}").status_code == 200  # other callers unaffected


@pytest.mark.slow
def test_cors_preflight_and_origin(gw):
    pre = gw.client.options(PREDICT, headers={"origin": ORIGIN, "access-control-request-method": "POST",
                                              "access-control-request-headers": "authorization, content-type"})
    assert pre.status_code == 204
    assert pre.headers["access-control-allow-origin"] == ORIGIN
    assert "POST" in pre.headers["access-control-allow-methods"]
    assert pre.headers["access-control-allow-headers"] == "authorization, content-type"
    stranger = gw.client.options(PREDICT, headers={"origin": "https://evil.example",
                                                   "access-control-request-method": "POST"})
    assert stranger.status_code == 403 and "access-control-allow-origin" not in stranger.headers
    answer = post(gw, origin=ORIGIN, authorization=f"Bearer {CAROL}")
    assert answer.status_code == 200 and answer.headers["access-control-allow-origin"] == ORIGIN
    # A refusal reaches the browser readably too.
    assert post(gw, origin=ORIGIN).headers.get("access-control-allow-origin") == ORIGIN
