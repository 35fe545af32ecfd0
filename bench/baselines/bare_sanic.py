"""The bare-Sanic ceiling: read the request body, answer a body of the size the client asks for
(header ``X-Body-Bytes``, the gateway's answer size for the scenario). Whatever the gateway spends
above this is its own work.

Run: ``python -m sanic bench.baselines.bare_sanic:app --workers 2 --port P --no-access-logs``.
"""
import os

from sanic import Sanic
from sanic.response import raw

MAX_BODY = 64 * 1024 * 1024
_bodies: dict[int, bytes] = {}

app = Sanic("bare_ceiling")
app.config.ACCESS_LOG = False
app.config.REQUEST_MAX_SIZE = 512 * 1024 * 1024


def body_of(size: int) -> bytes:
    """A JSON body of exactly ``size`` bytes (at least 8), made once per size."""
    size = min(max(size, 8), MAX_BODY)
    body = _bodies.get(size)
    if body is None:
        body = _bodies[size] = b'{"x":"' + b"0" * (size - 8) + b'"}'
    return body


@app.get("/healthz")
async def healthz(request):
    return raw(str(os.getpid()).encode())


@app.route("/<path:path>", methods=["POST", "GET"])
async def anything(request, path):
    request.body  # Sanic has read the whole body before calling us; that is part of the ceiling
    return raw(body_of(int(request.headers.get("x-body-bytes", "64"))),
               content_type="application/json")
