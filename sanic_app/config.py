"""Settings: the one typed object every part of the gateway reads its configuration from.

Each field declares its own CLI flag, environment variable (``GATEWAY_<FIELD>``) and parser in
its metadata, so adding a setting is one entry here: ``cli.py`` builds the argument parser and
the environment reader from this table. Precedence: CLI flag > environment > default.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from sanic_app.errors import ConfigError

ENV_PREFIX = "GATEWAY_"


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"expected a boolean (1/0, true/false, yes/no), got {text!r}")


def _paths(text: str) -> tuple[str, ...]:
    return tuple(p for p in text.replace(";", ",").split(",") if p.strip())


def _target(text: str) -> str:
    from sanic_app.core.backend_target import check

    return check(text)


def _choice(*allowed: str):
    """A parser accepting only the given words; the error lists them."""

    def parse(text: str) -> str:
        word = text.strip()
        if word not in allowed:
            raise ValueError(f"allowed: {', '.join(allowed)}")
        return word

    return parse


def _opt(flags, help, parse=str, **extra):
    """Field metadata: CLI flags, help text and the parser for env/CLI text."""
    return {"flags": flags, "help": help, "parse": parse, **extra}


@dataclass(frozen=True)
class Settings:
    host: str = field(default="127.0.0.1", metadata=_opt(("--host",), "interface to listen on"))
    port: int = field(default=8000, metadata=_opt(("--port", "-p"), "HTTP port", int))
    workers: int = field(default=1, metadata=_opt(("--workers", "-w"), "worker processes", int))
    single_process: bool = field(
        default=False,
        metadata=_opt(("--single-process",), "serve in this process, no worker manager", _bool, switch=True),
    )
    spec_paths: tuple[str, ...] = field(
        default=(),
        metadata=_opt(("--spec", "-s"), "model spec file (repeatable); none: the embedded digits demo",
                      _paths, repeat=True, env="GATEWAY_SPECS"),
    )
    target: str | None = field(
        default=None,
        metadata=_opt(("--target",), "TF Serving for pass-through models and specs without a target: "
                      "host:port, dns:[//resolver/]host:port or unix:PATH (default: start the "
                      "embedded backend)", _target),
    )
    target_tls: bool = field(
        default=False,
        metadata=_opt(("--target-tls",), "TLS to --target, trusting the system's roots (implied by "
                      "--target-ca)", _bool, switch=True),
    )
    target_ca: str | None = field(
        default=None, metadata=_opt(("--target-ca",), "PEM roots to trust for --target (turns TLS on)")
    )
    target_cert: str | None = field(
        default=None, metadata=_opt(("--target-cert",), "client certificate (PEM) for mTLS to --target")
    )
    target_key: str | None = field(
        default=None, metadata=_opt(("--target-key",), "client private key (PEM) for mTLS to --target")
    )
    target_server_name: str | None = field(
        default=None,
        metadata=_opt(("--target-server-name",), "name to check --target's certificate against "
                      "(default: the host of --target)"),
    )
    deadline_ms: int = field(
        default=5000, metadata=_opt(("--deadline-ms",), "backend deadline when a spec gives none", int)
    )
    max_body_bytes: int = field(
        default=64 * 1024 * 1024, metadata=_opt(("--max-body-bytes",), "largest request body", int)
    )
    max_batch: int = field(default=256, metadata=_opt(("--max-batch",), "most instances per request", int))
    max_call_bytes: int = field(
        default=8 * 1024 * 1024,
        metadata=_opt(("--max-call-bytes",), "most input tensor bytes in one backend call: a larger "
                      "batch goes to the backend in parts of whole rows, one after another, so a "
                      "worker holds one part's pixels and tensors at a time", int),
    )
    max_image_pixels: int = field(
        default=40_000_000,
        metadata=_opt(("--max-image-pixels",), "largest image (width*height) accepted, read from the header", int),
    )
    # --- operations (metrics, probes, limits, shutdown; see README "Metrics, health and limits")
    max_json_depth: int = field(
        default=32, metadata=_opt(("--max-json-depth",), "deepest nesting of arrays/objects in a JSON body", int)
    )
    max_inputs: int = field(default=32, metadata=_opt(("--max-inputs",), "most named inputs per request", int))
    max_in_flight: int = field(
        default=256,
        metadata=_opt(("--max-in-flight",), "requests one worker handles at once; more get 429 at once", int),
    )
    graceful_shutdown_s: float = field(
        default=15.0,
        metadata=_opt(("--graceful-shutdown-s",), "on SIGTERM, how long in-flight requests may finish", float),
    )
    # --- the edge: slow and greedy clients (sanic_app/ops/edge.py) ---
    header_timeout_s: float = field(
        default=10.0,
        metadata=_opt(("--header-timeout-s",), "whole request head (line and headers) within this, from "
                      "its first byte (from the accept for a new connection); else 408 and close", float),
    )
    body_timeout_s: float = field(
        default=30.0,
        metadata=_opt(("--body-timeout-s",), "request body within this plus its size at "
                      "--body-min-rate; else 408 and close", float),
    )
    body_min_rate: int = field(
        default=64 * 1024,
        metadata=_opt(("--body-min-rate",), "slowest body upload accepted, bytes/s (time a large "
                      "body earns beyond --body-timeout-s)", int),
    )
    keep_alive_timeout_s: float = field(
        default=75.0,
        metadata=_opt(("--keep-alive-timeout-s",), "an idle keep-alive connection is closed after this", float),
    )
    max_connections: int = field(
        default=10_000,
        metadata=_opt(("--max-connections",), "open connections per worker (lowered to fit the "
                      "file-descriptor limit); beyond: close the oldest idle or slow one, else 503", int),
    )
    slow_head_evict_s: float = field(
        default=1.0,
        metadata=_opt(("--slow-head-evict-s",), "at --max-connections, a connection still sending "
                      "its head after this may be closed to make room", float),
    )
    max_headers: int = field(
        default=100, metadata=_opt(("--max-headers",), "most header fields in a request; more: 431", int)
    )
    max_header_bytes: int = field(
        default=8192,
        metadata=_opt(("--max-header-bytes",), "largest request head in bytes (at most 16384); "
                      "larger: 413", int),
    )
    ready_ttl_s: float = field(
        default=1.0, metadata=_opt(("--ready-ttl-s",), "how long a worker caches its /readyz answer", float)
    )
    metrics_dir: str | None = field(
        default=None,
        metadata=_opt(("--metrics-dir",), "directory for the workers' metric files (emptied of them at start; "
                      "default: a temporary one)"),
    )
    max_message_bytes: int = field(
        default=256 * 1024 * 1024,
        metadata=_opt(("--max-message-bytes",), "gRPC send/receive message limit", int),
    )
    decode_threads: int = field(
        default=0,
        metadata=_opt(("--decode-threads",), "thread pool for image decoding (0: decode inline)", int),
    )
    passthrough: bool = field(
        default=True,
        metadata=_opt(("--no-passthrough",), "refuse models without a spec instead of asking the "
                      "backend's metadata", _bool, switch=False),
    )
    metadata_ttl_s: float = field(
        default=60.0,
        metadata=_opt(("--metadata-ttl-s",), "how long a worker caches pass-through metadata", float),
    )
    # --- callers: keys, tokens, rates, browsers (sanic_app/http/auth.py, http/cors.py) ---
    api_keys_file: str | None = field(
        default=None,
        metadata=_opt(("--api-keys-file",), "API keys, one id:secret or id:sha256:<hex> a line; "
                      "with keys or a JWT key set, every route but health/readiness/docs needs one"),
    )
    api_keys: str | None = field(
        default=None,
        metadata=_opt(("--api-keys",), "API keys inline, id:secret entries separated by commas "
                      "(prefer the GATEWAY_API_KEYS variable: flags show in ps)"),
    )
    jwt_secret_file: str | None = field(
        default=None, metadata=_opt(("--jwt-secret-file",), "file holding the HS256 secret bearer JWTs are signed with")
    )
    jwt_public_key_file: str | None = field(
        default=None, metadata=_opt(("--jwt-public-key-file",), "PEM public key RS256 bearer JWTs are checked against")
    )
    jwt_audience: str | None = field(
        default=None, metadata=_opt(("--jwt-audience",), "required aud claim of bearer JWTs")
    )
    jwt_issuer: str | None = field(
        default=None, metadata=_opt(("--jwt-issuer",), "required iss claim of bearer JWTs")
    )
    rate_limit_rps: float = field(
        default=0.0,
        metadata=_opt(("--rate-limit-rps",), "requests/s per caller (key id), per worker; more: 429 "
                      "with Retry-After (0: no limit)", float),
    )
    rate_limit_burst: int = field(
        default=0,
        metadata=_opt(("--rate-limit-burst",), "requests a caller may send at once before its rate "
                      "applies (0: the rate, at least 1)", int),
    )
    metrics_auth: bool = field(
        default=False,
        metadata=_opt(("--metrics-auth",), "/metrics needs a key too (default: open, like the probes)",
                      _bool, switch=True),
    )
    cors_origins: tuple[str, ...] = field(
        default=(),
        metadata=_opt(("--cors-origin",), "browser origin allowed to call (repeatable; * for any); "
                      "none: CORS off", _paths, repeat=True, env="GATEWAY_CORS_ORIGINS", metavar="ORIGIN"),
    )
    cors_max_age_s: int = field(
        default=600, metadata=_opt(("--cors-max-age-s",), "how long browsers may cache a preflight answer", int)
    )
    # --- run modes (sanic_app/ops/modes.py) ---
    env: str = field(
        default="production",
        metadata=_opt(("--env",), "run mode: production (JSON log lines, INFO) or development "
                      "(readable lines, DEBUG)", _choice("production", "development"), env="APP_ENV"),
    )
    reload: bool = field(
        default=False,
        metadata=_opt(("--reload",), "restart the workers when a source file of the package changes "
                      "(development only)", _bool, switch=True),
    )
    profile: bool = field(
        default=False,
        metadata=_opt(("--profile",), "profile prediction requests with pyinstrument (needs the "
                      "'profile' extra)", _bool, switch=True),
    )
    profile_every: int = field(
        default=1, metadata=_opt(("--profile-every",), "profile one prediction in N (per worker)", int)
    )
    profile_dir: str = field(
        default="profiles", metadata=_opt(("--profile-dir",), "directory the profiles are written to")
    )
    profile_output: str = field(
        default="request",
        metadata=_opt(("--profile-output",), "request: one file per profiled request; aggregate: one "
                      "merged file per worker", _choice("request", "aggregate")),
    )
    profile_format: str = field(
        default="html",
        metadata=_opt(("--profile-format",), "html (pyinstrument's page, opens offline) or speedscope "
                      "(JSON for speedscope.app)", _choice("html", "speedscope")),
    )

    # --- hand-offs from the main process to its workers (no flag, no variable) ---
    embedded_target: str | None = field(
        default=None, metadata={"internal": True, "help": "address of the embedded backend this run started"},
    )

    def __post_init__(self):
        checks = [
            (0 <= self.port < 65536, "port", "must be 0..65535"),
            (self.workers >= 1, "workers", "must be >= 1"),
            (not self.single_process or self.workers == 1, "workers",
             "--single-process serves in this one process: drop --workers (GATEWAY_WORKERS)"),
            (self.deadline_ms > 0, "deadline_ms", "must be > 0"),
            (self.max_body_bytes > 0, "max_body_bytes", "must be > 0"),
            (self.max_batch >= 1, "max_batch", "must be >= 1"),
            (self.max_call_bytes >= 1, "max_call_bytes", "must be >= 1"),
            (self.max_image_pixels > 0, "max_image_pixels", "must be > 0"),
            (self.max_message_bytes >= 4 * 1024 * 1024, "max_message_bytes", "must be >= 4 MiB"),
            (0 <= self.decode_threads <= 64, "decode_threads", "must be 0..64"),
            (self.metadata_ttl_s >= 0, "metadata_ttl_s", "must be >= 0"),
            # orjson stops at 1024 levels and the stdlib fallback recurses: stay well below.
            (1 <= self.max_json_depth <= 512, "max_json_depth", "must be 1..512"),
            (self.max_inputs >= 1, "max_inputs", "must be >= 1"),
            (self.max_in_flight >= 1, "max_in_flight", "must be >= 1"),
            (self.graceful_shutdown_s >= 0, "graceful_shutdown_s", "must be >= 0"),
            (self.ready_ttl_s >= 0, "ready_ttl_s", "must be >= 0"),
            (self.rate_limit_rps >= 0, "rate_limit_rps", "must be >= 0"),
            (self.rate_limit_burst >= 0, "rate_limit_burst", "must be >= 0"),
            (self.cors_max_age_s >= 0, "cors_max_age_s", "must be >= 0"),
            (self.header_timeout_s > 0, "header_timeout_s", "must be > 0"),
            (self.body_timeout_s > 0, "body_timeout_s", "must be > 0"),
            (self.body_min_rate >= 1, "body_min_rate", "must be >= 1"),
            (self.keep_alive_timeout_s > 0, "keep_alive_timeout_s", "must be > 0"),
            (self.max_connections >= 1, "max_connections", "must be >= 1"),
            (self.slow_head_evict_s >= 0, "slow_head_evict_s", "must be >= 0"),
            (self.max_headers >= 1, "max_headers", "must be >= 1"),
            # Sanic's parser stops at 16 KiB whatever it is told (Http.HEADER_CEILING).
            (1024 <= self.max_header_bytes <= 16384, "max_header_bytes", "must be 1024..16384"),
            (not self.reload or self.env == "development", "reload",
             "--reload (GATEWAY_RELOAD) is for development only: add --env development (APP_ENV=development)"),
            (not self.reload or not self.single_process, "reload",
             "--reload restarts worker processes, so it cannot be combined with --single-process"),
            (self.profile_every >= 1, "profile_every", "--profile-every must be >= 1"),
        ]
        tls = self.target_tls_spec
        if tls is not None:
            checks += [(False, f"target_{name}", why) for name, why in tls.problems()]
            checks.append((bool(self.target), "target_tls", "TLS settings need --target (GATEWAY_TARGET)"))
        for ok, name, why in checks:
            if not ok:
                raise ConfigError(f"{name}={getattr(self, name)!r}: {why}")
        if self.profile:  # at start-up, not at the first profiled request
            from sanic_app.ops.profiling import ProfilerUnavailable, require_pyinstrument

            try:
                require_pyinstrument()
            except ProfilerUnavailable as exc:
                raise ConfigError(str(exc)) from None

    @property
    def target_tls_spec(self):
        """The TLS --target asks for (sanic_app/core/tls.py), or None for plaintext."""
        if not (self.target_tls or self.target_ca or self.target_cert or self.target_key
                or self.target_server_name):
            return None
        from sanic_app.core.tls import TlsSpec

        return TlsSpec(self.target_ca, self.target_cert, self.target_key, self.target_server_name)

    @property
    def deadline_s(self) -> float:
        return self.deadline_ms / 1000.0

    def replace(self, **changes) -> "Settings":
        return dataclasses.replace(self, **changes)


def user_fields() -> list[dataclasses.Field]:
    """The settings a user sets (flags and variables); internal hand-offs are left out."""
    return [f for f in dataclasses.fields(Settings) if not f.metadata.get("internal")]


def env_name(f: dataclasses.Field) -> str:
    return f.metadata.get("env") or ENV_PREFIX + f.name.upper()
