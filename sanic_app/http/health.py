"""/healthz and /readyz.

/healthz answers whenever the worker's event loop runs: it says the process is alive and
touches nothing else, so an orchestrator restarts only a wedged process. /readyz answers from
the worker's Readiness (ops/readiness): 200 when every model's backend is ready, else 503
with the reasons.
"""
from __future__ import annotations

import os

import orjson
from sanic.response import raw

JSON = "application/json"


def _json(status: int, payload: dict, headers: dict | None = None):
    return raw(orjson.dumps(payload), status=status, content_type=JSON, headers=headers)


async def healthz(request):
    return _json(200, {"status": "alive", "pid": os.getpid()})


async def readyz(request):
    ok, reasons = await request.app.ctx.readiness.check()
    if ok:
        return _json(200, {"status": "ready"})
    return _json(503, {"status": "not ready", "error": "; ".join(reasons), "reasons": reasons},
                 headers={"Retry-After": "1"})
