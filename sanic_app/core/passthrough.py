"""Models without a spec, and the backend's own view of any model (metadata, status).

A model with no spec file is served in pass-through mode: its signature's input dtypes and
shapes come from TF Serving's GetModelMetadata, cached per worker for ``metadata_ttl_s``, and
turned into the same ``ModelConfig`` a spec file would give (all outputs raw). The REST
metadata and status answers are rendered here in TF Serving's JSON form.
"""
from __future__ import annotations

import time

import numpy as np
from google.protobuf import json_format

import fastpack
from sanic_app.errors import GatewayError, InvalidArgument, NotFound
from sanic_app.protos import GET_MODEL_METADATA, GET_MODEL_STATUS, SIGNATURE_DEF_MAP_URL, serving_pb2
from sanic_app.core.spec import InputSpec, ModelConfig
from sanic_app.core.upstream import Upstream

# tensorflow.error.Code names, for GetModelStatus' status.error_code (an enum in TF's proto).
ERROR_CODE_NAMES = (
    "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
    "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
    "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
)
DT_STRING = 7


def model_spec_message(name: str, version: int | None, label: str | None, signature: str = ""):
    spec = serving_pb2.ModelSpec(name=name, signature_name=signature)
    if version is not None:
        spec.version.value = version
    elif label is not None:
        spec.version_label = label
    return spec


def _to_json(message) -> dict:
    return json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)


async def fetch_metadata(upstream: Upstream, name, version, label, timeout: float):
    """(ModelSpec message, SignatureDefMap message) from GetModelMetadata."""
    request = serving_pb2.GetModelMetadataRequest(
        model_spec=model_spec_message(name, version, label), metadata_field=["signature_def"])
    raw = await upstream.call(GET_MODEL_METADATA, request.SerializeToString(), timeout)
    response = serving_pb2.GetModelMetadataResponse.FromString(raw)
    signatures = serving_pb2.SignatureDefMap()
    packed = response.metadata.get("signature_def")
    if packed is not None:
        if packed.type_url != SIGNATURE_DEF_MAP_URL:
            raise GatewayError(f"backend metadata has unexpected type {packed.type_url!r}", code="INTERNAL")
        signatures.ParseFromString(packed.value)
    return response.model_spec, signatures


async def metadata_json(upstream: Upstream, name, version, label, timeout: float) -> dict:
    """GetModelMetadataResponse as TF Serving's REST API renders it."""
    spec, signatures = await fetch_metadata(upstream, name, version, label, timeout)
    return {"model_spec": _to_json(spec), "metadata": {"signature_def": _to_json(signatures)}}


async def status_json(upstream: Upstream, name, version, label, timeout: float) -> dict:
    """GetModelStatusResponse as TF Serving's REST API renders it (error codes by name)."""
    request = serving_pb2.GetModelStatusRequest(model_spec=model_spec_message(name, version, label))
    raw = await upstream.call(GET_MODEL_STATUS, request.SerializeToString(), timeout)
    body = _to_json(serving_pb2.GetModelStatusResponse.FromString(raw))
    for item in body.get("model_version_status", []):
        status = item.setdefault("status", {"error_code": 0, "error_message": ""})
        code = status.get("error_code", 0)
        if isinstance(code, int) and 0 <= code < len(ERROR_CODE_NAMES):
            status["error_code"] = ERROR_CODE_NAMES[code]
    return body


def config_from_signature(name: str, signature_name: str, signatures, target=None) -> ModelConfig:
    """A spec-less ModelConfig: tensor (or bytes) inputs typed and shaped as the signature says."""
    sig = signatures.signature_def.get(signature_name)
    if sig is None:
        known = ", ".join(sorted(signatures.signature_def)) or "none"
        raise InvalidArgument(f"Serving signature name: \"{signature_name}\" not found in signature def "
                              f"(model {name!r} has: {known})")
    inputs = {}
    for input_name, info in sorted(sig.inputs.items()):
        shape = None if info.tensor_shape.unknown_rank else tuple(int(d.size) for d in info.tensor_shape.dim)
        if info.dtype == DT_STRING:
            inputs[input_name] = InputSpec(input_name, "bytes", np.dtype(object), shape)
        else:
            try:
                dtype = fastpack.dtypes.to_numpy(info.dtype)
            except (KeyError, ValueError, fastpack.FastpackError):
                raise InvalidArgument(f"input {input_name!r} of model {name!r} has a dtype "
                                      f"({info.dtype}) the gateway cannot encode") from None
            inputs[input_name] = InputSpec(input_name, "tensor", np.dtype(dtype), shape)
    return ModelConfig(name=name, signature_name=signature_name, target=target, inputs=inputs,
                       source="<backend metadata>")


class MetadataCache:
    """Pass-through ModelConfigs per (name, version, label, signature), per worker, with a TTL."""

    def __init__(self, ttl_s: float):
        self.ttl_s = ttl_s
        self._entries: dict[tuple, tuple[float, ModelConfig]] = {}

    async def get(self, upstream: Upstream, name, version, label, signature, timeout) -> ModelConfig:
        key = (name, version, label, signature)
        hit = self._entries.get(key)
        now = time.monotonic()
        if hit is not None and now - hit[0] < self.ttl_s:
            return hit[1]
        _, signatures = await fetch_metadata(upstream, name, version, label, timeout)
        config = config_from_signature(name, signature or "serving_default", signatures)
        if len(self._entries) > 1024:
            self._entries.clear()
        self._entries[key] = (now, config)
        return config


def no_backend(name: str) -> NotFound:
    return NotFound(f"Servable not found for request: model {name!r} has no spec and no pass-through "
                    "backend is configured (give --target)")
