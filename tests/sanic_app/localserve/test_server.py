"""server.py's extra channel args from $LOCALSERVE_GRPC_OPTIONS, on a real backend process."""
import json
import os

import grpc
import numpy as np
import pytest

import fastpack
from sanic_app.localserve.process import LocalServe, LocalServeError
from sanic_app.localserve.server import EXTRA_OPTIONS_ENV, SERVER_OPTIONS, server_options
from sanic_app.protos import PREDICT


def test_server_options_default_and_override(monkeypatch):
    monkeypatch.delenv(EXTRA_OPTIONS_ENV, raising=False)
    assert server_options() == SERVER_OPTIONS
    monkeypatch.setenv(EXTRA_OPTIONS_ENV, json.dumps(
        {"grpc.max_receive_message_length": 1024, "grpc.optimization_target": "throughput"}))
    options = dict(server_options())
    assert options["grpc.max_receive_message_length"] == 1024
    assert options["grpc.optimization_target"] == "throughput"
    assert options["grpc.max_send_message_length"] == 2**31 - 1
    assert len(server_options()) == len(SERVER_OPTIONS) + 1


@pytest.mark.parametrize("raw", ['[["grpc.x", 1]]', '{"notgrpc.x": 1}', '{"grpc.x": true}',
                                 '{"grpc.x": 1.5}', "{"])
def test_server_options_rejects_malformed(monkeypatch, raw):
    monkeypatch.setenv(EXTRA_OPTIONS_ENV, raw)
    with pytest.raises(ValueError):
        server_options()


def _predict(channel, width):
    request = fastpack.encode_predict_request("m", {"x": np.zeros((1, width), np.float32)})
    call = channel.unary_unary(PREDICT, request_serializer=None, response_deserializer=None)
    return call(request, timeout=10)


def test_backend_applies_extra_options():
    """A receive limit passed through the environment is enforced by the running server."""
    env = dict(os.environ, **{EXTRA_OPTIONS_ENV: '{"grpc.max_receive_message_length": 4096}'})
    with LocalServe("--null_model", "m:x=float32[-1,-1]:y=float32[-1,2]", env=env) as backend, \
            grpc.insecure_channel(backend.target) as channel:
        outputs, _ = fastpack.decode_predict_response(_predict(channel, 16))
        assert outputs["y"].shape == (1, 2)
        with pytest.raises(grpc.RpcError) as caught:
            _predict(channel, 2048)
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_backend_refuses_malformed_extra_options():
    env = dict(os.environ, **{EXTRA_OPTIONS_ENV: '{"grpc.x": [1]}'})
    with pytest.raises(LocalServeError, match=EXTRA_OPTIONS_ENV):
        LocalServe("--null_model", "m:x=float32[-1,2]:y=float32[-1,2]", env=env).start()
