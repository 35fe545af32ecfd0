"""CORS for browser clients: off by default; ``--cors-origins`` lists who may call.

With origins configured, every route also answers ``OPTIONS`` (the preflight: 204 with the
route's methods, the headers asked for, and ``Access-Control-Max-Age``), and responses to an
allowed ``Origin`` carry ``Access-Control-Allow-Origin`` (the origin itself, with ``Vary:
Origin``). A preflight from an origin not listed gets 403. Without origins nothing changes:
OPTIONS is a method the routes do not take (see errors.py).
"""
from __future__ import annotations

import re

from sanic.response import empty, raw

from sanic_app.errors import error_body

_TOKEN_LIST = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+(\s*,\s*[A-Za-z0-9!#$%&'*+.^_`|~-]+)*")
EXPOSED = "X-Request-ID, Retry-After, WWW-Authenticate"


class Cors:
    def __init__(self, origins: tuple[str, ...], max_age_s: int):
        self.any = "*" in origins
        self.origins = frozenset(o.rstrip("/") for o in origins if o != "*")
        self.max_age_s = max_age_s

    def allowed(self, origin: str | None) -> bool:
        return bool(origin) and (self.any or origin in self.origins)

    async def decorate(self, request, response):
        """Response middleware: the allow headers on answers to an allowed origin."""
        origin = request.headers.get("origin")
        if response is not None and self.allowed(origin):
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Vary"] = "Origin"
            response.headers["Access-Control-Expose-Headers"] = EXPOSED

    def preflight_for(self, methods):
        allow = ", ".join(sorted(set(methods) | {"OPTIONS"}))

        async def preflight(request, **_):
            origin = request.headers.get("origin")
            if origin is None:  # a plain OPTIONS: what the route takes
                return empty(headers={"Allow": allow})
            if not self.allowed(origin):
                return raw(error_body(f"origin {origin[:100]!r} is not allowed"), status=403,
                           content_type="application/json")
            headers = {"Access-Control-Allow-Methods": allow, "Access-Control-Max-Age": str(self.max_age_s)}
            asked = (request.headers.get("access-control-request-headers") or "").strip()
            if asked and len(asked) <= 1024 and _TOKEN_LIST.fullmatch(asked):
                headers["Access-Control-Allow-Headers"] = asked
            return empty(headers=headers)  # Allow-Origin comes from decorate

        return preflight


def add_preflights(app, cors: Cors) -> None:
    """An OPTIONS route beside every route that has none (call after every route is added)."""
    by_uri: dict[str, set[str]] = {}
    for route in app.router.routes:
        by_uri.setdefault(route.uri, set()).update(route.methods)
    for number, (uri, methods) in enumerate(sorted(by_uri.items())):
        if "OPTIONS" not in methods:
            app.add_route(cors.preflight_for(methods), uri, methods=["OPTIONS"], name=f"cors_preflight_{number}")
