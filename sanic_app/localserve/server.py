"""The gRPC server around BackendService, asyncio or thread-pool flavoured.

Messages travel as raw bytes (no (de)serializers), so each RPC body is one call into
BackendService. Errors become the gRPC status TF Serving would send; anything unexpected
becomes INTERNAL and the server lives on.
"""
import asyncio
import json
import logging
import os
import time
from concurrent import futures

import grpc

from sanic_app.protos import (
    CLASSIFY,
    GET_MODEL_METADATA,
    GET_MODEL_STATUS,
    MODEL_SERVICE,
    PREDICT,
    PREDICTION_SERVICE,
    REGRESS,
)

from .errors import ServingError
from .service import BackendService

log = logging.getLogger("sanic_app.localserve")

# 2 GiB - 1 is gRPC's hard ceiling; TF Serving also lifts the 4 MB default.
MAX_MESSAGE_BYTES = 2**31 - 1
SERVER_OPTIONS = [
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.so_reuseport", 0),
]
# Extra server channel args for benchmarks, e.g. '{"grpc.http2.max_frame_size": 1048576}'
# (HTTP/2 SETTINGS are the receiver's, so frame size and windows for requests are set here).
EXTRA_OPTIONS_ENV = "LOCALSERVE_GRPC_OPTIONS"


def server_options() -> list[tuple[str, int | str]]:
    """SERVER_OPTIONS plus any grpc.* int/str args from $LOCALSERVE_GRPC_OPTIONS (a JSON object)."""
    raw = os.environ.get(EXTRA_OPTIONS_ENV, "").strip()
    if not raw:
        return list(SERVER_OPTIONS)
    extra = json.loads(raw)
    if not isinstance(extra, dict) or not all(
            isinstance(k, str) and k.startswith("grpc.")
            and isinstance(v, (int, str)) and not isinstance(v, bool)
            for k, v in extra.items()):
        raise ValueError(f"{EXTRA_OPTIONS_ENV} must be a JSON object of grpc.* -> int or string")
    return [(k, v) for k, v in SERVER_OPTIONS if k not in extra] + list(extra.items())


def _method_name(path: str) -> str:
    return path.rsplit("/", 1)[1]


def _run(body, data: bytes):
    """(response bytes, None) or (None, (code, message)); never raises."""
    try:
        return body(data), None
    except ServingError as error:
        return None, (error.code, error.message)
    except Exception as error:  # a bug or a model failure must not kill the server
        log.exception("RPC failed")
        return None, (grpc.StatusCode.INTERNAL, f"{type(error).__name__}: {error}")


def _bodies(service: BackendService):
    return {
        PREDICT: service.predict,
        GET_MODEL_METADATA: service.get_model_metadata,
        GET_MODEL_STATUS: service.get_model_status,
        CLASSIFY: service.classify,
        REGRESS: service.regress,
    }


def _generic_handlers(handlers_by_path):
    by_service = {}
    for path, handler in handlers_by_path.items():
        service_name = path.split("/")[1]
        by_service.setdefault(service_name, {})[_method_name(path)] = handler
    assert set(by_service) == {PREDICTION_SERVICE, MODEL_SERVICE}
    return [grpc.method_handlers_generic_handler(name, methods)
            for name, methods in by_service.items()]


def _bind(server, address: str, credentials) -> int:
    """Plaintext, or TLS when ``credentials`` (grpc.ssl_server_credentials) are given."""
    if credentials is None:
        return server.add_insecure_port(address)
    return server.add_secure_port(address, credentials)


def build_sync_server(service: BackendService, address: str, delay_ms: float = 0,
                      max_workers: int = 32, credentials=None):
    """A grpc.server with a thread pool; returns (server, bound port)."""

    def wrap(path, body):
        def handler(data, context):
            if delay_ms and path == PREDICT:
                time.sleep(delay_ms / 1000)
            response, failure = _run(body, data)
            if failure:
                context.abort(*failure)
            return response
        return grpc.unary_unary_rpc_method_handler(handler)

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=max_workers),
                         options=server_options())
    server.add_generic_rpc_handlers(
        _generic_handlers({path: wrap(path, body) for path, body in _bodies(service).items()}))
    port = _bind(server, address, credentials)
    return server, port


def build_aio_server(service: BackendService, address: str, delay_ms: float = 0, credentials=None):
    """A grpc.aio server (call inside a running loop); returns (server, bound port)."""

    def wrap(path, body):
        async def handler(data, context):
            if delay_ms and path == PREDICT:
                await asyncio.sleep(delay_ms / 1000)
            response, failure = _run(body, data)
            if failure:
                await context.abort(*failure)
            return response
        return grpc.unary_unary_rpc_method_handler(handler)

    server = grpc.aio.server(options=server_options())
    server.add_generic_rpc_handlers(
        _generic_handlers({path: wrap(path, body) for path, body in _bodies(service).items()}))
    port = _bind(server, address, credentials)
    return server, port
