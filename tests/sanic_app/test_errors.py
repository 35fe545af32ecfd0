"""One exception tree, one map to HTTP: TF Serving's gRPC-code table and {"error": ...} body."""
import json

import grpc
import pytest

import fastpack
from sanic_app import errors


@pytest.mark.parametrize("code,status", [
    ("INVALID_ARGUMENT", 400), ("FAILED_PRECONDITION", 400), ("OUT_OF_RANGE", 400),
    ("NOT_FOUND", 404), ("DEADLINE_EXCEEDED", 504), ("UNAVAILABLE", 503), ("RESOURCE_EXHAUSTED", 429),
    ("UNIMPLEMENTED", 501), ("CANCELLED", 499), ("PERMISSION_DENIED", 403), ("UNAUTHENTICATED", 401),
    ("ABORTED", 409), ("ALREADY_EXISTS", 409), ("INTERNAL", 500), ("UNKNOWN", 500), ("DATA_LOSS", 500),
])
def test_tf_serving_status_table(code, status):
    assert errors.GatewayError("m", code=code).status == status


def test_body_is_tf_serving_error_json():
    err = errors.InvalidArgument('bad "thing"')
    assert json.loads(err.body()) == {"error": 'bad "thing"'}
    assert errors.PayloadTooLarge("x").status == 413 and errors.UnsupportedMediaType("x").status == 415


class FakeRpcError(grpc.RpcError):
    def __init__(self, code, details):
        self._code, self._details = code, details

    def code(self):
        return self._code

    def details(self):
        return self._details


def test_grpc_errors_keep_code_and_message():
    err = errors.from_grpc(FakeRpcError(grpc.StatusCode.NOT_FOUND, "Servable not found for request: Latest(x)"))
    assert (err.status, err.message) == (404, "Servable not found for request: Latest(x)")
    err = errors.from_grpc(FakeRpcError(grpc.StatusCode.UNAVAILABLE, "connection refused"), "h:1")
    assert err.status == 503 and "h:1" in err.message and "connection refused" in err.message
    assert errors.from_grpc(FakeRpcError(grpc.StatusCode.DEADLINE_EXCEEDED, "")).status == 504


def test_from_exception_classifies_everything():
    assert errors.from_exception(fastpack.EncodeError("no")).status == 400
    assert errors.from_exception(fastpack.PreprocessError("no")).status == 400
    assert errors.from_exception(fastpack.DecodeError("no")).status == 500
    hidden = errors.from_exception(RuntimeError("secret path /etc"))
    assert hidden.status == 500 and "secret" not in hidden.message


def test_spec_error_names_file_and_field():
    err = errors.SpecError("a.json", "inputs.x.dtype", "is required")
    assert str(err) == "a.json: inputs.x.dtype: is required"
