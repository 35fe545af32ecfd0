"""Model metadata in the Open Inference Protocol's form, from a TF Serving signature.

Pass-through models show their signature as it is (dtypes by the protocol's names, ``-1``
for variable dimensions). Spec models show what a client sends to the gateway: an image
input is a BYTES tensor of encoded images, one per batch item; tensor inputs keep the spec's
dtype and shape; outputs are the signature's (only those the spec names, when it names any).
"""
from __future__ import annotations

import numpy as np

import fastpack
from sanic_app.core.spec import InputSpec, ModelConfig
from sanic_app.errors import InvalidArgument
from sanic_app.http.v2_format import datatype_of

DT_STRING = 7
DT_BFLOAT16 = 14


def tf_datatype(dtype_enum: int) -> str:
    """TF DataType number -> the protocol's datatype name (BF16 has no numpy twin)."""
    if dtype_enum == DT_STRING:
        return "BYTES"
    if dtype_enum == DT_BFLOAT16:
        return "BF16"
    try:
        return datatype_of(fastpack.dtypes.to_numpy(dtype_enum))
    except Exception:
        return f"DT_{dtype_enum}"


def tensor_shape(info) -> list[int]:
    shape = info.tensor_shape
    if shape.unknown_rank:
        return [-1]
    return [int(d.size) for d in shape.dim]


def signature_tensors(tensors) -> list[dict]:
    return [{"name": name, "datatype": tf_datatype(info.dtype), "shape": tensor_shape(info)}
            for name, info in sorted(tensors.items())]


def spec_input(spec: InputSpec) -> dict:
    if spec.kind in ("image", "bytes"):
        shape = [-1] if spec.kind == "image" else list(spec.shape or [-1])
        return {"name": spec.name, "datatype": "BYTES", "shape": shape}
    return {"name": spec.name, "datatype": datatype_of(np.dtype(spec.dtype)),
            "shape": list(spec.shape) if spec.shape is not None else [-1]}


def model_metadata(name: str, model_spec, signatures, signature_name: str,
                   spec: ModelConfig | None) -> dict:
    """The body of GET /v2/models/{name}[/versions/{v}]."""
    sig = signatures.signature_def.get(signature_name)
    if sig is None:
        known = ", ".join(sorted(signatures.signature_def)) or "none"
        raise InvalidArgument(f"signature {signature_name!r} not found (model {name!r} has: {known})")
    outputs = signature_tensors(sig.outputs)
    if spec is not None:
        inputs = [spec_input(s) for s in spec.inputs.values()]
        if spec.outputs:
            outputs = [o for o in outputs if o["name"] in spec.outputs]
    else:
        inputs = signature_tensors(sig.inputs)
    body = {"name": name}
    if model_spec.HasField("version"):
        body["versions"] = [str(model_spec.version.value)]
    body.update(platform="tensorflow_savedmodel", inputs=inputs, outputs=outputs)
    if signature_name != "serving_default":
        body["parameters"] = {"signature_name": signature_name}
    return body
