"""TF Serving's URL rules (http_rest_api_util.cc; cases from http_rest_api_handler_test.cc)."""
import pytest

from sanic_app.errors import InvalidArgument
from sanic_app.http.tfserving_urls import ModelUrl, belongs_to_api, parse
from tfserving_vectors import UNSUPPORTED_API_CALLS


@pytest.mark.parametrize("method, path, url", [
    ("POST", "/v1/models/m:predict", ModelUrl("m", None, None, "predict")),
    ("POST", "/V1/MODELS/m:predict", ModelUrl("m", None, None, "predict")),
    ("POST", "/v1/models/m/versions/7:classify", ModelUrl("m", 7, None, "classify")),
    ("POST", "/v1/models/m/labels/stable:regress", ModelUrl("m", None, "stable", "regress")),
    ("POST", "/v1/models/half%5Fplus%5Ftwo/labels/st%61ble:predict",
     ModelUrl("half_plus_two", None, "stable", "predict")),
    ("GET", "/v1/models/m", ModelUrl("m", None, None, None)),
    ("GET", "/v1/Models/m/Versions/3/metadata", ModelUrl("m", 3, None, None, metadata=True)),
    ("GET", "/v1/models/m/labels/x/metadata", ModelUrl("m", None, "x", None, metadata=True)),
    # matched case-insensitively but dispatched on the exact word: a status request
    ("GET", "/v1/models/m/METADATA", ModelUrl("m", None, None, None)),
])
def test_model_urls(method, path, url):
    assert parse(method, path) == url


@pytest.mark.parametrize("method, path", UNSUPPORTED_API_CALLS + [
    ("POST", "/v1/models/foo:explode"), ("POST", "/v1/models/foo:PREDICT"),
    ("POST", "/v1/models/foo/versions/-1:predict"), ("GET", "/v1/models/m/"),
])
def test_malformed_requests(method, path):
    with pytest.raises(InvalidArgument) as info:
        parse(method, path)
    assert info.value.message == f"Malformed request: {method} {path}"
    assert info.value.status == 400


def test_missing_model_name_and_version_overflow():
    with pytest.raises(InvalidArgument, match=r"^Missing model name in request\.$"):
        parse("GET", "/v1/models")
    with pytest.raises(InvalidArgument, match="^Failed to convert version: 18446744073709551615 to numeric."):
        parse("POST", "/v1/models/foo/versions/18446744073709551615:regress")
    with pytest.raises(InvalidArgument, match="^Failed to decode model name:"):
        parse("POST", "/v1/models/%FF:predict")


def test_api_prefix():
    assert belongs_to_api("/v1/models") and belongs_to_api("/V1/x")
    assert not belongs_to_api("/statuspage") and not belongs_to_api("/index") and not belongs_to_api("/v1")


def test_a_repeated_url_is_parsed_once_and_a_malformed_one_every_time():
    first = parse("POST", "/v1/models/cached-name:predict")
    assert parse("POST", "/v1/models/cached-name:predict") is first
    for _ in range(2):  # errors are not cached: each call raises its own
        with pytest.raises(InvalidArgument, match="Malformed request"):
            parse("POST", "/v1/models/cached-name:explain")
