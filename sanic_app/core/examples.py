"""Classify and Regress over gRPC: tf.Example inputs in, labelled scores or values out.

Off the predict hot path: requests and answers are our own wire-compatible messages
(sanic_app/protos/example.proto), sent over TF Serving's PredictionService/Classify and
/Regress as raw bytes through the model's Upstream.
"""
from __future__ import annotations

from google.protobuf.message import DecodeError

from sanic_app.core.upstream import Upstream
from sanic_app.errors import GatewayError
from sanic_app.protos import CLASSIFY, REGRESS, example_pb2
from sanic_app.protos.requests import model_spec


def _request(message_class, name, version, label, signature, request_input):
    message = message_class(model_spec=model_spec(name, version, label, signature or ""))
    message.input.CopyFrom(request_input)
    return message.SerializeToString()


def _parse(message_class, raw: bytes):
    try:
        return message_class.FromString(raw)
    except DecodeError:
        raise GatewayError(f"malformed {message_class.__name__} from the backend", code="INTERNAL") from None


async def classify(upstream: Upstream, name, version, label, signature, request_input,
                   timeout: float) -> list[list[tuple[str, float]]]:
    """Per example, its (label, score) classes in the backend's order."""
    raw = await upstream.call(CLASSIFY, _request(example_pb2.ClassificationRequest, name, version,
                                                 label, signature, request_input), timeout)
    result = _parse(example_pb2.ClassificationResponse, raw).result
    return [[(c.label, c.score) for c in item.classes] for item in result.classifications]


async def regress(upstream: Upstream, name, version, label, signature, request_input,
                  timeout: float) -> list[float]:
    """One value per example."""
    raw = await upstream.call(REGRESS, _request(example_pb2.RegressionRequest, name, version,
                                                label, signature, request_input), timeout)
    return [r.value for r in _parse(example_pb2.RegressionResponse, raw).result.regressions]
