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

import asyncio
import logging
import random
import re
import sys
import time
from typing import Any

import orjson
from sanic import Request
from sanic.http.http1 import Http
from sanic.server.protocols.http_protocol import HttpProtocol

ENVIRONMENTS = ("production", "development")
REQUEST_ID_HEADER = "X-Request-ID"
ACCESS_LOGGER = "sanic.access"
_access_logger = logging.getLogger(ACCESS_LOGGER)
# Production lines wait at most this long in the process's buffer before one write sends them.
FLUSH_INTERVAL_S = 0.05
FLUSH_BYTES = 64 * 1024

# A client-sent id is kept only when it is short and plain, so it cannot forge log structure.
_ACCEPTABLE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")

# Attributes every LogRecord has; anything else on a record came in through ``extra=``.
_STANDARD_ATTRIBUTES = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__
) | {"message", "asctime", "taskName"}
# The extras Sanic puts on its access record; we report them under clearer names.
_SANIC_ACCESS_EXTRAS = frozenset({"status", "byte", "host", "request", "duration"})


def new_request_id() -> str:
    """64 random bits as hex: unique enough to find one request's lines, short to read.

    From ``random`` (seeded from os.urandom, reseeded in forked children) rather than
    os.urandom itself: no getrandom syscall per request, and an id is no secret.
    """
    return f"{random.getrandbits(64):016x}"


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


def _client(request: Request, transport) -> str:
    """Sanic's access-line "host": the client's ip:port, else a tag of the transport."""
    ip = request.client_ip
    return f"{ip}:{request.port}" if ip else f"{id(transport):X}"[-5:-1] + "unx"


def _response_bytes(response) -> int | None:
    """Body size as Sanic's access record gives it (Content-Length; none when chunked)."""
    headers = response.headers
    if headers.get("transfer-encoding") == "chunked":
        return None
    size = headers.get("content-length", 0)
    if isinstance(size, int) or (isinstance(size, str) and size.isdigit()):
        return int(size)
    return None


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
            calls = getattr(getattr(request.ctx, "timings", None), "backend_calls", 0)
            if calls > 1:
                fields["backend_calls"] = calls
            key_id = getattr(request.ctx, "key_id", None)
            if key_id:
                fields["key_id"] = key_id
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
    """``12:00:01.234 INFO    sanic.access [3fa2c0d1e5b69a7c] POST /x 200 3.1ms decode=0.20ms ...``"""

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


class JsonLinesHandler(logging.StreamHandler):
    """Production's one handler: lines collect in a per-process buffer and go out together.

    A write (and its flush) per line was a syscall per request. Lines now wait up to
    FLUSH_INTERVAL_S (an event-loop timer; at once outside the event loop's thread), or until
    FLUSH_BYTES pile up, then leave in one write. WARNING and above flush at once, behind the
    lines before them, so order is kept and problems are never held back. Access lines take
    the same buffer without a LogRecord (:func:`write_access_line`). Lines still buffered when
    the process stops are written by logging's shutdown (``flush``) and the worker's stop hook.
    """

    def __init__(self, stream=None):
        super().__init__(stream)
        self._parts: list[bytes] = []
        self._size = 0
        self._timer = None
        self.clock = _UtcClock()
        global _json_lines
        _json_lines = self

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record).encode("utf-8", "backslashreplace") + b"\n"
        except Exception:
            self.handleError(record)
            return
        self.add(line, urgent=record.levelno >= logging.WARNING)

    def add(self, line: bytes, urgent: bool = False) -> None:
        """Queue one finished line (ending in a newline); the caller may hold no lock."""
        with self.lock:
            self._parts.append(line)
            self._size += len(line)
            if urgent or self._size >= FLUSH_BYTES:
                self._write()
            elif self._timer is None:
                try:
                    loop = asyncio.get_running_loop()
                except RuntimeError:  # another thread, or no loop: nothing would flush later
                    self._write()
                else:
                    self._timer = loop.call_later(FLUSH_INTERVAL_S, self.flush)

    def flush(self) -> None:
        with self.lock:
            self._write()
            if self.stream is not None and hasattr(self.stream, "flush"):
                self.stream.flush()

    def _write(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._parts:
            return
        data = b"".join(self._parts)
        self._parts.clear()
        self._size = 0
        stream = self.stream
        try:
            binary = getattr(stream, "buffer", None)
            if binary is None:  # a text-only stream (io.StringIO in tests)
                stream.write(data.decode("utf-8"))
                return
            stream.flush()  # whatever was print()ed to the text layer goes first
            view = memoryview(data)
            while view:  # an unbuffered FileIO (python -u) may write part of it
                written = binary.write(view)
                view = view[written if written is not None else len(view):]
            binary.flush()
        except Exception:  # a closed or broken stream: the lines are lost, the server lives on
            if logging.raiseExceptions:
                sys.stderr.write(f"--- logging: could not write {len(data)} bytes of log lines\n")

    def close(self) -> None:
        global _json_lines
        try:
            self.flush()
        except Exception:
            pass
        if _json_lines is self:
            _json_lines = None
        super().close()


_json_lines: JsonLinesHandler | None = None


def access_line(request: Request, response, transport, clock: _UtcClock) -> bytes:
    """The production access line, built straight from the request (no LogRecord, no extras
    dict, no formatter): the same fields, in the same order, as JsonLineFormatter writes."""
    method, path = request.method, request.path
    status = getattr(response, "status", 0)
    line: dict[str, Any] = {
        "timestamp": clock.iso(time.time()),
        "level": "INFO",
        "logger": ACCESS_LOGGER,
        "message": f"{method} {path} {status}",
        "request_id": request_id_of(request),
        "method": method,
        "path": path,
        "status": status,
    }
    size = _response_bytes(response)
    if size is not None:
        line["bytes"] = size
    ctx = request.ctx
    started = getattr(ctx, "received_at", None)
    if started is not None:
        line["latency_ms"] = round((time.perf_counter() - started) * 1000.0, 3)
    timings = getattr(ctx, "timings", None)
    if timings is not None:
        spent = _timings_ms(request)
        if spent:
            line["timings_ms"] = spent
    model = getattr(ctx, "model", None)
    if model:
        line["model"] = model
    batch_size = getattr(timings, "batch_size", None)
    if batch_size:
        line["batch_size"] = batch_size
    calls = getattr(timings, "backend_calls", 0)
    if calls > 1:  # the batch went to the backend in parts (core/parts.py)
        line["backend_calls"] = calls
    key_id = getattr(ctx, "key_id", None)  # the caller's key id (sanic_app/http/auth.py), never the key
    if key_id:
        line["key_id"] = key_id
    line["client"] = _client(request, transport)
    return orjson.dumps(line, default=str, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_APPEND_NEWLINE)


def write_access_line(request: Request, response, transport) -> bool:
    """Queue the access line on the JSON-lines handler; False when that path is not set up
    (development mode, access logger silenced, or no JsonLinesHandler), so Sanic's logs it."""
    handler = _json_lines
    if handler is None or not _access_logger.isEnabledFor(logging.INFO):
        return False
    handler.add(access_line(request, response, transport, handler.clock))
    return True


class _AccessLineHttp(Http):
    """Sanic's HTTP/1.1 cycle with our access line in place of its LogRecord one."""

    __slots__ = ()

    def log_response(self) -> None:
        if not write_access_line(self.request, self.response, self.protocol.transport):
            super().log_response()


class AccessLineProtocol(HttpProtocol):
    """The server protocol the gateway runs with (``app.prepare(protocol=...)``)."""

    HTTP_CLASS = _AccessLineHttp
    __slots__ = ()


def log_config(env: str) -> dict[str, Any]:
    """The ``logging.config.dictConfig`` for a run mode; also what Sanic's ``log_config`` takes."""
    if env not in ENVIRONMENTS:
        raise ValueError(f"unknown environment {env!r}; allowed: {', '.join(ENVIRONMENTS)}")
    production = env == "production"
    level = "INFO" if production else "DEBUG"
    formatter = JsonLineFormatter if production else ReadableFormatter
    handler = f"{__name__}.JsonLinesHandler" if production else "logging.StreamHandler"
    sanic_loggers = ("sanic.root", "sanic.error", "sanic.access", "sanic.server")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"line": {"()": formatter}},
        "handlers": {
            "stdout": {"class": handler, "formatter": "line", "stream": sys.stdout}
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


def stamp_request(request: Request) -> None:
    """First head hook (or request middleware): the start time and the request id."""
    request.ctx.received_at = time.perf_counter()
    request_id_of(request)


def echo_request_id(request: Request, response) -> None:
    """Answer hook (or response middleware): the request id back to the client."""
    if response is not None:
        response.headers[REQUEST_ID_HEADER] = request_id_of(request)


async def flush_lines(app) -> None:
    """Worker stop: write the access lines still batched."""
    handler = _json_lines
    if handler is not None:
        handler.flush()


_echo = logging.getLogger("sanic_app.request")


async def echo_request(request: Request) -> None:
    """Development only: a DEBUG line as each request arrives, before any work on it."""
    _echo.debug(
        "-> %s %s (%s, %d bytes)",
        request.method, request.path, request.content_type or "no content type", len(request.body or b""),
    )
