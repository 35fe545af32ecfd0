"""GetModelStatus: ask the backend which versions of a model are loaded, and in what state.

Used by the REST status route (rendered by http/tfserving_json) and by readiness
(ops/readiness), so the call and its reading are written once.
"""
from __future__ import annotations

from sanic_app.core.upstream import Upstream
from sanic_app.protos import GET_MODEL_STATUS, serving_pb2
from sanic_app.protos.requests import status_request

_AVAILABLE = serving_pb2.ModelVersionStatus.AVAILABLE


async def fetch_status(upstream: Upstream, name: str, version: int | None, label: str | None,
                       timeout: float):
    """The GetModelStatusResponse message (UpstreamError on a failed call)."""
    request = status_request(name, version, label).SerializeToString()
    return serving_pb2.GetModelStatusResponse.FromString(
        await upstream.call(GET_MODEL_STATUS, request, timeout))


def available_versions(response) -> tuple[list[int], list[str]]:
    """(versions AVAILABLE, "version:STATE" of the others) from a GetModelStatusResponse."""
    ready, other = [], []
    for status in response.model_version_status:
        if status.state == _AVAILABLE:
            ready.append(status.version)
        else:
            state = serving_pb2.ModelVersionStatus.State.Name(status.state)
            other.append(f"{status.version}:{state}")
    return ready, other
