"""Every error as TF Serving's ``{"error": "..."}`` body with the status errors.py maps.

Ours (GatewayError and what from_exception classifies) and Sanic's own (404 route, 405, 413
body) alike. Overload and an unavailable backend are transient: their answers say when to
come back (Retry-After).
"""
from __future__ import annotations

from sanic.exceptions import MethodNotAllowed, SanicException
from sanic.handlers import ErrorHandler
from sanic.response import raw

from sanic_app.errors import UpstreamError, error_body, from_exception
from sanic_app.http import metrics as http_metrics

JSON = "application/json"


class JsonErrorHandler(ErrorHandler):
    def default(self, request, exception):
        extra = None
        if isinstance(exception, SanicException):
            status = getattr(exception, "status_code", 500) or 500
            message = str(exception) or type(exception).__name__
            extra = getattr(exception, "headers", None)  # WWW-Authenticate, Retry-After, Allow
            if isinstance(exception, MethodNotAllowed) and request is not None \
                    and request.path.startswith("/v1/"):
                # TF Serving's REST handler answers any method its /v1 routes do not take
                # with InvalidArgument "Malformed request: <METHOD> <path>", i.e. 400.
                status, message, extra = 400, f"Malformed request: {request.method} {request.path}", None
        else:
            err = from_exception(exception)
            status, message = err.status, err.message
            if status >= 500 and err.code == "INTERNAL":
                self.log(request, exception)
            if isinstance(err, UpstreamError):
                http_metrics.count_backend_error(request, err.code)
        headers = {"Retry-After": "1"} if status in (429, 503) else None
        if extra:
            headers = {**(headers or {}), **extra}
        return raw(error_body(message), status=status, content_type=JSON, headers=headers)


async def body_too_large(request, exception):
    """Sanic refuses a body past REQUEST_MAX_SIZE, or a head past REQUEST_MAX_HEADER_SIZE
    (then 431, as for too many header fields); say which limit, as our other 413s do."""
    if "header" in str(exception).lower():
        limit = request.app.config.REQUEST_MAX_HEADER_SIZE
        return raw(error_body(f"request head is larger than the limit of {limit} bytes"), status=431,
                   content_type=JSON)
    limit = request.app.config.REQUEST_MAX_SIZE
    return raw(error_body(f"request body is larger than the limit of {limit} bytes"), status=413,
               content_type=JSON)
