"""One exception tree for the gateway, and one map from it to HTTP.

Every failure a client can cause or see is a ``GatewayError`` carrying a canonical gRPC/TF
status code name; the HTTP status is looked up from that code with TF Serving's own table
(``ToHTTPStatusCode`` in its http_server), so clients of TF Serving see the statuses they expect.
The body is TF Serving's error form, ``{"error": "<message>"}``.
"""
from __future__ import annotations

import grpc

import fastpack
from fastpack._jsonfmt import json_string

# TF Serving's REST server maps status codes to HTTP like this (CANCELLED -> 499 is nginx's
# "client closed request"; FAILED_PRECONDITION and OUT_OF_RANGE are 400, not 412/416).
HTTP_STATUS_BY_CODE = {
    "OK": 200,
    "CANCELLED": 499,
    "UNKNOWN": 500,
    "INVALID_ARGUMENT": 400,
    "DEADLINE_EXCEEDED": 504,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "PERMISSION_DENIED": 403,
    "RESOURCE_EXHAUSTED": 429,
    "FAILED_PRECONDITION": 400,
    "ABORTED": 409,
    "OUT_OF_RANGE": 400,
    "UNIMPLEMENTED": 501,
    "INTERNAL": 500,
    "UNAVAILABLE": 503,
    "DATA_LOSS": 500,
    "UNAUTHENTICATED": 401,
}


class GatewayError(Exception):
    """Base of everything the gateway reports to a client; ``code`` picks the HTTP status."""

    code = "INTERNAL"
    http_status: int | None = None  # set on subclasses for HTTP-only conditions (413, 415)

    def __init__(self, message: str, *, code: str | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    @property
    def status(self) -> int:
        if self.http_status is not None:
            return self.http_status
        return HTTP_STATUS_BY_CODE.get(self.code, 500)

    def body(self) -> bytes:
        return error_body(self.message)


class InvalidArgument(GatewayError):
    """The request is malformed or does not fit the model's inputs (400)."""

    code = "INVALID_ARGUMENT"


class NotFound(GatewayError):
    """Unknown model, version, label or route (404)."""

    code = "NOT_FOUND"


class PayloadTooLarge(InvalidArgument):
    """Body, batch or image beyond the configured limits (413)."""

    http_status = 413


class UnsupportedMediaType(InvalidArgument):
    """A Content-Type the route cannot read (415)."""

    http_status = 415


class UpstreamError(GatewayError):
    """TF Serving (or the network to it) answered with a non-OK gRPC status."""


class SpecError(ValueError):
    """A model spec file is invalid; raised at start-up, never per request."""

    def __init__(self, file: str, path: str, why: str):
        self.file, self.path, self.why = file, path, why
        where = f"{file}: {path}" if path else file
        super().__init__(f"{where}: {why}")


class ConfigError(ValueError):
    """A CLI flag or environment variable has an unusable value; stops start-up."""


def error_body(message: str) -> bytes:
    """TF Serving's error body, laid out as its REST API writes it (RapidJSON's PrettyWriter)."""
    return b'{\n    "error": ' + json_string(message) + b"\n}"


def from_grpc(err: grpc.RpcError, target: str = "") -> UpstreamError:
    """Turn a grpc(.aio) error into an UpstreamError keeping TF Serving's code and message."""
    try:
        code = err.code()
        details = err.details() or ""
    except Exception:  # a non-call RpcError
        return UpstreamError(f"backend call failed: {err}", code="UNAVAILABLE")
    name = code.name if isinstance(code, grpc.StatusCode) else "UNKNOWN"
    if name == "UNAVAILABLE":
        where = f" at {target}" if target else ""
        details = f"backend unavailable{where}: {details}"
    elif name == "DEADLINE_EXCEEDED" and not details:
        details = "deadline exceeded waiting for the backend"
    return UpstreamError(details or name, code=name)


def from_exception(exc: BaseException) -> GatewayError:
    """Classify anything raised while serving a request (fastpack errors included; limits'
    LimitExceeded is a GatewayError already)."""
    if isinstance(exc, GatewayError):
        return exc
    if isinstance(exc, grpc.RpcError):
        return from_grpc(exc)
    if isinstance(exc, fastpack.DecodeError):
        return GatewayError(f"malformed response from the backend: {exc}", code="INTERNAL")
    if isinstance(exc, fastpack.FastpackError):  # EncodeError, PreprocessError
        return InvalidArgument(str(exc))
    return GatewayError(f"internal error: {type(exc).__name__}", code="INTERNAL")
