"""Log lines for the two run modes, with the request id on every line of a request.

production:  one JSON object per line (orjson), INFO for most loggers, ready for ELK.
development: one readable line per record, DEBUG.

Sanic's own loggers (``sanic.root``, ``sanic.error``, ``sanic.access``, ``sanic.server``) go
through the same formatter, so its access line *is* our access line: the formatter adds the
request id, method, path, status, latency and the pipeline's per-stage timings to it.

Which request a record belongs to comes from Sanic's own context variable (set when the
request head is parsed, so even a request refused before routing has one), so nothing is
passed around and log calls deep in the pipeline still carry the id. Everything lands on
stdout: one stream keeps the order of lines, which is what a log shipper wants.
"""
from __future__ import annotations

import logging
import logging.config
import os
import re
import sys
import time
from typing import Any

import orjson
from sanic import Request

ENVIRONMENTS = ("production", "development")
REQUEST_ID_HEADER = "X-Request-ID"
ACCESS_LOGGER = "sanic.access"

# A client-sent id is kept only when it is short and plain, so it cannot forge log structure.
_ACCEPTABLE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")

# Attributes every LogRecord has; anything else on a record came in through ``extra=``.
_STANDARD_ATTRIBUTES = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__
) | {"message", "asctime", "taskName"}
# The extras Sanic puts on its access record; we report them under clearer names.
_SANIC_ACCESS_EXTRAS = frozenset({"status", "byte", "host", "request", "duration"})


def new_request_id() -> str:
    """64 random bits as hex: unique enough to find one request's lines, short to read."""
    return os.urandom(8).hex()


def request_id_of(request: Request) -> str:
    """The request's id, taken from X-Request-ID or made once and kept on ``request.ctx``."""
    ctx = request.ctx
    request_id = getattr(ctx, "request_id", None)
    if request_id is None:
        sent = request.headers.get(REQUEST_ID_HEADER)
        request_id = sent if sent and _ACCEPTABLE_REQUEST_ID.fullmatch(sent) else new_request_id()
        ctx.request_id = request_id
    return request_id


def current_request() -> Request | None:
    """The request being handled in this task, if any (Sanic keeps it in a ContextVar)."""
    return Request._current.get(None)


def _latency_ms(request: Request) -> float | None:
    started = getattr(request.ctx, "received_at", None)
    return None if started is None else round((time.perf_counter() - started) * 1000.0, 3)


def _timings_ms(request: Request) -> dict[str, float] | None:
    """The stages a prediction reached (seconds on ``request.ctx.timings``), in milliseconds."""
    timings = getattr(request.ctx, "timings", None)
    if timings is None:
        return None
    return {stage: round(seconds * 1000.0, 3) for stage, seconds in timings.items() if seconds > 0.0}


def request_fields(record: logging.LogRecord) -> dict[str, Any]:
    """What a record knows about its request: id and route always, outcome on access lines."""
    request = current_request()
    fields: dict[str, Any] = {}
    if request is not None:
        fields["request_id"] = request_id_of(request)
        fields["method"] = request.method
        fields["path"] = request.path
    if record.name == ACCESS_LOGGER:
        fields["status"] = getattr(record, "status", None)
        size = getattr(record, "byte", None)
        if isinstance(size, int) or (isinstance(size, str) and size.isdigit()):
            fields["bytes"] = int(size)
        if request is not None:
            latency = _latency_ms(request)
            if latency is not None:
                fields["latency_ms"] = latency
            timings = _timings_ms(request)
            if timings:
                fields["timings_ms"] = timings
            model = getattr(request.ctx, "model", None)
            if model:
                fields["model"] = model
            batch_size = getattr(getattr(request.ctx, "timings", None), "batch_size", None)
            if batch_size:
                fields["batch_size"] = batch_size
            fields["client"] = getattr(record, "host", None)
    return fields


_SKIP_ON_ACCESS = _STANDARD_ATTRIBUTES | _SANIC_ACCESS_EXTRAS


def _extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    attributes = record.__dict__
    extra = attributes.keys() - (_SKIP_ON_ACCESS if record.name == ACCESS_LOGGER else _STANDARD_ATTRIBUTES)
    return {key: attributes[key] for key in extra} if extra else {}


class _UtcClock:
    """ISO 8601 timestamps with milliseconds; the part up to the second is made once a second."""

    __slots__ = ("second", "prefix")

    def __init__(self):
        self.second, self.prefix = -1, ""

    def iso(self, created: float) -> str:
        second = int(created)
        if second != self.second:
            self.second = second
            self.prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self.prefix}.{int((created - second) * 1000):03d}Z"


def _access_message(fields: dict[str, Any]) -> str:
    return f"{fields.get('method', '-')} {fields.get('path', '-')} {fields.get('status', '-')}"


class JsonLineFormatter(logging.Formatter):
    """One JSON object per record; values orjson cannot encode are written with str()."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.clock = _UtcClock()

    def format(self, record: logging.LogRecord) -> str:
        fields = request_fields(record)
        message = record.getMessage()
        if record.name == ACCESS_LOGGER and not message:
            message = _access_message(fields)
        line: dict[str, Any] = {
            "timestamp": self.clock.iso(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
        }
        line.update(fields)
        line.update(_extra_fields(record))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(line, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


class ReadableFormatter(logging.Formatter):
    """``12:00:01.234 INFO  sanic.access [3fa2c0d1e5b69a7c] GET /x 200 3.1ms parse=0.2ms ...``"""

    def format(self, record: logging.LogRecord) -> str:
        fields = request_fields(record)
        clock = time.strftime("%H:%M:%S", time.localtime(record.created))
        head = f"{clock}.{int(record.msecs):03d} {record.levelname:<7} {record.name}"
        if "request_id" in fields:
            head += f" [{fields['request_id']}]"
        message = record.getMessage()
        if record.name == ACCESS_LOGGER:
            message = _access_message(fields)
            if "latency_ms" in fields:
                message += f" {fields['latency_ms']:.1f}ms"
            for stage, ms in (fields.get("timings_ms") or {}).items():
                message += f" {stage}={ms:.2f}ms"
        extras = _extra_fields(record)
        if extras:
            message += " " + " ".join(f"{key}={value!r}" for key, value in extras.items())
        text = f"{head} {message}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def log_config(env: str) -> dict[str, Any]:
    """The ``logging.config.dictConfig`` for a run mode; also what Sanic's ``log_config`` takes."""
    if env not in ENVIRONMENTS:
        raise ValueError(f"unknown environment {env!r}; allowed: {', '.join(ENVIRONMENTS)}")
    production = env == "production"
    level = "INFO" if production else "DEBUG"
    formatter = JsonLineFormatter if production else ReadableFormatter
    sanic_loggers = ("sanic.root", "sanic.error", "sanic.access", "sanic.server")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"line": {"()": formatter}},
        "handlers": {
            "stdout": {"class": "logging.StreamHandler", "formatter": "line", "stream": sys.stdout}
        },
        "root": {"level": level, "handlers": ["stdout"]},
        "loggers": {
            # Sanic's loggers propagate to root: one handler, one format, no duplicate lines.
            **{name: {"level": level, "handlers": [], "propagate": True} for name in sanic_loggers},
            "sanic.websockets": {"level": "WARNING", "handlers": [], "propagate": True},
            # Libraries whose DEBUG output is noise even while developing.
            "PIL": {"level": "INFO"},
            "asyncio": {"level": "INFO" if production else "DEBUG"},
            "grpc": {"level": "WARNING" if production else "INFO"},
        },
    }


def configure_logging(env: str) -> None:
    """Apply the run mode's logging to this process (each worker calls it for itself)."""
    logging.config.dictConfig(log_config(env))


def install(app) -> None:
    """Stamp each request with its id and start time, and echo the id on the response."""

    @app.on_request(priority=1000)
    async def _stamp_request(request: Request) -> None:
        request.ctx.received_at = time.perf_counter()
        request_id_of(request)

    @app.on_response(priority=1000)
    async def _echo_request_id(request: Request, response) -> None:
        if response is not None:
            response.headers[REQUEST_ID_HEADER] = request_id_of(request)


def install_request_echo(app) -> None:
    """Development only: a DEBUG line as each request arrives, before any work on it."""
    echo = logging.getLogger("sanic_app.request")

    @app.on_request(priority=999)
    async def _echo_request(request: Request) -> None:
        echo.debug(
            "-> %s %s (%s, %d bytes)",
            request.method, request.path, request.content_type or "no content type", len(request.body or b""),
        )
