"""Models without a spec: their inputs from the backend's GetModelMetadata.

A model with no spec file is served in pass-through mode: its signature's input dtypes and
shapes come from TF Serving's GetModelMetadata, cached per worker for ``metadata_ttl_s``, and
turned into the same ``ModelConfig`` a spec file would give (all outputs raw). The protocol
adapters render the same metadata in their own JSON forms.
"""
from __future__ import annotations

import time

import numpy as np

import fastpack
from sanic_app.errors import GatewayError, InvalidArgument, NotFound
from sanic_app.protos import GET_MODEL_METADATA, SIGNATURE_DEF_MAP_URL, serving_pb2
from sanic_app.protos.requests import metadata_request
from sanic_app.core.spec import InputSpec, ModelConfig
from sanic_app.core.upstream import Upstream

DT_STRING = 7


async def fetch_metadata(upstream: Upstream, name, version, label, timeout: float):
    """(ModelSpec message, SignatureDefMap message) from GetModelMetadata."""
    request = metadata_request(name, version, label).SerializeToString()
    raw = await upstream.call(GET_MODEL_METADATA, request, timeout)
    response = serving_pb2.GetModelMetadataResponse.FromString(raw)
    signatures = serving_pb2.SignatureDefMap()
    packed = response.metadata.get("signature_def")
    if packed is not None:
        if packed.type_url != SIGNATURE_DEF_MAP_URL:
            raise GatewayError(f"backend metadata has unexpected type {packed.type_url!r}", code="INTERNAL")
        signatures.ParseFromString(packed.value)
    return response.model_spec, signatures


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
