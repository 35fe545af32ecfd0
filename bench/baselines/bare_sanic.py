"""The bare-Sanic ceiling: read the request body, answer a fixed body of the same size as the
gateway's answer. Whatever the gateway spends above this is its own work.

Run: ``python -m sanic bench.baselines.bare_sanic:app --workers 2 --port P``, with
``BARE_SANIC_BODY_BYTES`` set to the gateway's response size for the scenario.
"""
import os

from sanic import Sanic
from sanic.response import raw

BODY = b'{"x":"' + b"0" * max(0, int(os.environ.get("BARE_SANIC_BODY_BYTES", "64")) - 8) + b'"}'

app = Sanic("bare_ceiling")
app.config.ACCESS_LOG = False
app.config.REQUEST_MAX_SIZE = 512 * 1024 * 1024


@app.get("/healthz")
async def healthz(request):
    return raw(str(os.getpid()).encode())


@app.route("/<path:path>", methods=["POST", "GET"])
async def anything(request, path):
    request.body  # the whole body has been read by Sanic's protocol already
    return raw(BODY, content_type="application/json")
