"""Authentication and per-caller rate limits for every route except an explicit open list.

Routes are classified by path, not by adapter, so any protocol's routes (``/v1``, ``/v2``,
...) are covered the moment they exist; only what is listed in :func:`is_open` is not:
health and readiness (``/healthz``, ``/readyz``, ``/v2/health/...``), the docs, CORS
preflights, and ``/metrics`` unless ``--metrics-auth``. The check is a head hook
(sanic_app/ops/hooks.py), before the body is read and before admission takes a slot, so a
caller without a key costs neither.

Credentials: ``Authorization: Bearer <api key or JWT>`` or ``X-API-Key: <api key>``. Missing
or wrong -> 401 with ``WWW-Authenticate``; over the caller's rate -> 429 with ``Retry-After``.
The caller's id (never the key) lands on ``request.ctx.key_id`` and in the access line.
"""
from __future__ import annotations

from sanic.exceptions import SanicException

from sanic_app.errors import ConfigError
from sanic_app.ops.credentials import InvalidToken, JwtVerifier, KeyStore
from sanic_app.ops.ratelimit import RateLimiter

REALM = "tfserving-gateway"
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/openapi.json", "/docs", "/"})
OPEN_PREFIXES = ("/v2/health/",)
API_KEY_HEADER = "x-api-key"


class Unauthorized(SanicException):
    status_code = 401
    quiet = True


class RateLimited(SanicException):
    status_code = 429
    quiet = True


def is_open(path: str, method: str, metrics_open: bool) -> bool:
    return (path in OPEN_PATHS or path.startswith(OPEN_PREFIXES) or method == "OPTIONS"
            or (metrics_open and path == "/metrics"))


def _challenge(error: str | None = None) -> dict:
    value = f'Bearer realm="{REALM}"'
    if error:
        value += ', error="invalid_token"'
    return {"WWW-Authenticate": value}


class Auth:
    """One worker's credentials and buckets, and the head hook that checks each request."""

    def __init__(self, keys: KeyStore, jwt: JwtVerifier | None, limiter: RateLimiter | None,
                 metrics_open: bool = True):
        self.keys, self.jwt, self.limiter, self.metrics_open = keys, jwt, limiter, metrics_open

    @classmethod
    def from_settings(cls, settings) -> "Auth | None":
        keys = KeyStore.load(settings.api_keys_file, settings.api_keys)
        jwt = JwtVerifier.from_settings(settings)
        if not keys and jwt is None:
            if settings.rate_limit_rps:
                raise ConfigError("rate_limit_rps: rate limits are per caller; configure API keys "
                                  "(--api-keys-file, GATEWAY_API_KEYS) or a JWT key first")
            return None
        limiter = RateLimiter(settings.rate_limit_rps, settings.rate_limit_burst or
                              max(1, round(settings.rate_limit_rps))) if settings.rate_limit_rps else None
        return cls(keys, jwt, limiter, metrics_open=not settings.metrics_auth)

    def caller(self, request) -> str:
        """The caller's id, or Unauthorized."""
        presented = request.headers.get(API_KEY_HEADER)
        if presented is None:
            scheme, _, presented = (request.headers.get("authorization") or "").partition(" ")
            if scheme.lower() != "bearer" or not presented.strip():
                raise Unauthorized("authentication required: send Authorization: Bearer <key or token>",
                                   headers=_challenge())
            presented = presented.strip()
        if self.jwt is not None and presented.count(".") == 2:
            try:
                return self.jwt.verify(presented)
            except InvalidToken as why:
                raise Unauthorized(f"invalid token: {why}", headers=_challenge("invalid_token")) from None
        key_id = self.keys.identify(presented) if self.keys else None
        if key_id is None:
            raise Unauthorized("invalid API key", headers=_challenge("invalid_token"))
        return key_id

    def check(self, request) -> None:
        """Head hook: 401 without valid credentials, 429 past the caller's rate."""
        if is_open(request.path, request.method, self.metrics_open):
            return
        key_id = self.caller(request)
        request.ctx.key_id = key_id
        if self.limiter is not None:
            wait = self.limiter.retry_after(key_id)
            if wait:
                raise RateLimited(f"rate limit of {self.limiter.rate:g} requests/s for {key_id} "
                                  f"exceeded; retry in {wait} s", headers={"Retry-After": str(wait)})
