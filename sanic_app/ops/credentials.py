"""Who is calling: API keys (kept only as SHA-256 digests) and bearer JWTs (HS256, RS256).

Key sources, ``id:secret`` or ``id:sha256:<64 hex>`` per entry:
- a file (``--api-keys-file``), one entry a line, ``#`` comments; hashed entries let the file
  itself hold no secret;
- ``GATEWAY_API_KEYS`` (or ``--api-keys``), entries separated by commas.
Secrets are hashed as they are read; a presented key is hashed and compared with every stored
digest by ``hmac.compare_digest`` (no early exit), so timing tells nothing about which.

JWTs are checked against one configured key: an HS256 secret file and/or an RS256 public key
(PEM, needs ``cryptography``). The token's ``alg`` must be one of those configured (no
``none``, no HS/RS confusion); ``exp``/``nbf`` are enforced with a small leeway, ``aud`` and
``iss`` when configured. The caller's id is ``jwt:<sub>``.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from pathlib import Path

import orjson

from sanic_app.errors import ConfigError

_ID = re.compile(r"[A-Za-z0-9._@-]{1,64}")
_HEX = re.compile(r"[0-9a-f]{64}")
LEEWAY_S = 30.0


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def parse_key_entry(entry: str, where: str) -> tuple[str, bytes]:
    """``id:secret`` or ``id:sha256:<hex>`` -> (id, digest); ConfigError names ``where``."""
    key_id, sep, rest = entry.strip().partition(":")
    if not sep or not _ID.fullmatch(key_id) or not rest:
        raise ConfigError(f"{where}: expected id:secret or id:sha256:<64 hex digits> (id of "
                          f"letters, digits, ._@-), got an entry starting {entry.strip()[:8]!r}...")
    if rest.startswith("sha256:"):
        hexdigest = rest[len("sha256:"):].lower()
        if not _HEX.fullmatch(hexdigest):
            raise ConfigError(f"{where}: key {key_id!r}: sha256: must be followed by 64 hex digits")
        return key_id, bytes.fromhex(hexdigest)
    if len(rest) < 16:
        raise ConfigError(f"{where}: key {key_id!r} is shorter than 16 characters")
    return key_id, _digest(rest)


class KeyStore:
    """API key digests by id."""

    def __init__(self, entries: list[tuple[str, bytes]]):
        self.entries = list(entries)
        ids = [key_id for key_id, _ in self.entries]
        if len(set(ids)) != len(ids):
            raise ConfigError("API keys: an id is given twice")

    @classmethod
    def load(cls, file: str | None, inline: str | None) -> "KeyStore":
        entries = []
        if file:
            try:
                lines = Path(file).read_text().splitlines()
            except OSError as exc:
                raise ConfigError(f"api_keys_file: cannot read {file}: {exc.strerror}") from None
            for number, line in enumerate(lines, 1):
                if line.strip() and not line.lstrip().startswith("#"):
                    entries.append(parse_key_entry(line, f"{file}:{number}"))
        if inline:
            entries += [parse_key_entry(e, "api_keys") for e in inline.split(",") if e.strip()]
        return cls(entries)

    def __bool__(self) -> bool:
        return bool(self.entries)

    def identify(self, presented: str) -> str | None:
        """The id of the key presented, or None; every digest is compared."""
        digest = _digest(presented)
        found = None
        for key_id, stored in self.entries:
            if hmac.compare_digest(digest, stored):
                found = key_id
        return found


def _b64url(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


class InvalidToken(Exception):
    """Why a token was refused (said to the client: it holds nothing secret)."""


class JwtVerifier:
    def __init__(self, hs256_secret: bytes | None = None, rs256_public_pem: bytes | None = None,
                 audience: str | None = None, issuer: str | None = None):
        self.hs256_secret = hs256_secret
        self.rs256_key = None
        if rs256_public_pem is not None:
            from cryptography.hazmat.primitives.serialization import load_pem_public_key

            self.rs256_key = load_pem_public_key(rs256_public_pem)
        self.audience, self.issuer = audience, issuer
        self.algorithms = {a for a, k in (("HS256", hs256_secret), ("RS256", self.rs256_key)) if k is not None}

    @classmethod
    def from_settings(cls, settings) -> "JwtVerifier | None":
        if not (settings.jwt_secret_file or settings.jwt_public_key_file):
            return None
        try:
            secret = Path(settings.jwt_secret_file).read_bytes().strip() if settings.jwt_secret_file else None
            pem = Path(settings.jwt_public_key_file).read_bytes() if settings.jwt_public_key_file else None
        except OSError as exc:
            raise ConfigError(f"JWT key: cannot read {exc.filename}: {exc.strerror}") from None
        if secret is not None and len(secret) < 32:
            raise ConfigError("jwt_secret_file: an HS256 secret needs at least 32 bytes")
        try:
            return cls(secret, pem, settings.jwt_audience, settings.jwt_issuer)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"jwt_public_key_file: not a PEM public key ({exc})") from None

    def verify(self, token: str, now: float | None = None) -> str:
        """The caller's id (``jwt:<sub>``) or InvalidToken."""
        parts = token.split(".")
        if len(parts) != 3:
            raise InvalidToken("malformed token")
        try:
            header = orjson.loads(_b64url(parts[0]))
            claims = orjson.loads(_b64url(parts[1]))
            signature = _b64url(parts[2])
        except (ValueError, orjson.JSONDecodeError):
            raise InvalidToken("malformed token") from None
        if not isinstance(header, dict) or not isinstance(claims, dict):
            raise InvalidToken("malformed token")
        alg = header.get("alg")
        if alg not in self.algorithms:
            raise InvalidToken(f"token algorithm {str(alg)[:10]!r} is not accepted")
        signed = f"{parts[0]}.{parts[1]}".encode()
        if alg == "HS256":
            expected = hmac.new(self.hs256_secret, signed, hashlib.sha256).digest()
            if not hmac.compare_digest(expected, signature):
                raise InvalidToken("bad signature")
        else:
            from cryptography.exceptions import InvalidSignature
            from cryptography.hazmat.primitives import hashes
            from cryptography.hazmat.primitives.asymmetric import padding

            try:
                self.rs256_key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
            except InvalidSignature:
                raise InvalidToken("bad signature") from None
        self._check_claims(claims, time.time() if now is None else now)
        sub = claims.get("sub")
        return "jwt:" + (sub if isinstance(sub, str) and _ID.fullmatch(sub) else "-")

    def _check_claims(self, claims: dict, now: float) -> None:
        exp, nbf = claims.get("exp"), claims.get("nbf")
        if exp is not None and (not isinstance(exp, (int, float)) or now > exp + LEEWAY_S):
            raise InvalidToken("token expired")
        if nbf is not None and (not isinstance(nbf, (int, float)) or now < nbf - LEEWAY_S):
            raise InvalidToken("token not valid yet")
        if self.issuer is not None and claims.get("iss") != self.issuer:
            raise InvalidToken("wrong issuer")
        if self.audience is not None:
            aud = claims.get("aud")
            if not (aud == self.audience or (isinstance(aud, list) and self.audience in aud)):
                raise InvalidToken("wrong audience")
