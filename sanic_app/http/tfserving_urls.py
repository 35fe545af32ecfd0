"""TF Serving's REST URLs, matched as TF Serving matches them (http_rest_api_util.cc).

Every path under /v1/ (any letter case) belongs to this API. POST paths must fully match
``/v1/models/{name}[/versions/{n}|/labels/{l}]:{classify|regress|predict}``, GET paths
``/v1/models[/{name}][/versions/{n}|/labels/{l}][/metadata]``, both case-insensitively; the
name and the label are then percent-decoded. Anything else under /v1/ is 400 "Malformed
request: <METHOD> <path>", and GET /v1/models is 400 "Missing model name in request.".
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from urllib.parse import unquote

from sanic_app.errors import InvalidArgument

API_PREFIX = re.compile(r"/v1/", re.IGNORECASE)  # TF Serving's kPathRegex "(?i)/v1/.*"
_VERSION_OR_LABEL = r"(?:/versions/(?P<version>\d+)|/labels/(?P<label>[^/:]+))?"
_POST = re.compile(r"/v1/models/(?P<name>[^/:]+)" + _VERSION_OR_LABEL
                   + r":(?P<verb>classify|regress|predict)", re.IGNORECASE)
_GET = re.compile(r"/v1/models(?:/(?P<name>[^/:]+))?" + _VERSION_OR_LABEL
                  + r"(?:/(?P<sub>metadata))?", re.IGNORECASE)
VERBS = ("predict", "classify", "regress")
_INT64_MAX = 2**63 - 1


@dataclass(frozen=True)
class ModelUrl:
    name: str
    version: int | None
    label: str | None
    verb: str | None  # POST: predict, classify or regress
    metadata: bool = False  # GET: /metadata, else model status


def belongs_to_api(path: str) -> bool:
    return API_PREFIX.match(path) is not None


def malformed(method: str, path: str) -> InvalidArgument:
    return InvalidArgument(f"Malformed request: {method} {path}")


def _decoded(text: str, what: str) -> str:
    if "%" not in text:
        return text
    try:
        return unquote(text, errors="strict")
    except UnicodeDecodeError:
        raise InvalidArgument(f"Failed to decode {what}:{text}") from None


@functools.lru_cache(maxsize=256)  # clients repeat a handful of URLs; a ModelUrl is immutable
def parse(method: str, path: str) -> ModelUrl:
    """The model URL of a GET or POST under /v1/, or the 400 TF Serving gives (not cached)."""
    pattern = _POST if method == "POST" else _GET if method == "GET" else None
    match = pattern.fullmatch(path) if pattern is not None else None
    if match is None:
        raise malformed(method, path)
    version = match["version"]
    if version is not None:
        version = int(version)
        if version > _INT64_MAX:
            raise InvalidArgument(f"Failed to convert version: {match['version']} to numeric.")
    label = _decoded(match["label"], "model version label") if match["label"] else None
    name = _decoded(match["name"], "model name") if match["name"] else ""
    if method == "POST":
        # the pattern ignores case, but TF Serving dispatches on the verb as written
        if match["verb"] not in VERBS:
            raise malformed(method, path)
        return ModelUrl(name, version, label, match["verb"])
    if not name:
        raise InvalidArgument("Missing model name in request.")
    # likewise "/METADATA" matches but is not the metadata sub-resource: a status request
    return ModelUrl(name, version, label, None, metadata=match["sub"] == "metadata")
