"""The off-hot-path requests built as protobuf messages: ModelSpec, GetModelStatus, metadata.

The one place that fills a ModelSpec from (name, version, label, signature), shared by the
gateway's core and the embedded backend's start-up probe.
"""
from __future__ import annotations

from sanic_app.protos import serving_pb2


def model_spec(name: str, version: int | None = None, label: str | None = None, signature: str = ""):
    spec = serving_pb2.ModelSpec(name=name, signature_name=signature)
    if version is not None:
        spec.version.value = version
    elif label is not None:
        spec.version_label = label
    return spec


def status_request(name: str, version: int | None = None, label: str | None = None):
    return serving_pb2.GetModelStatusRequest(model_spec=model_spec(name, version, label))


def metadata_request(name: str, version: int | None = None, label: str | None = None):
    return serving_pb2.GetModelMetadataRequest(
        model_spec=model_spec(name, version, label), metadata_field=["signature_def"])
