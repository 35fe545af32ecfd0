"""Between the v2 format and the core: InferRequest -> PredictCall, outputs -> v2 tensors.

The protocol types every tensor, so a datatype must be the model's (as Triton checks): no
casts here. An image input of a spec takes a BYTES tensor of encoded images (one per batch
item), decoded and preprocessed by the same pipeline as the v1 API. Outputs come from the
core un-post-processed: a spec's softmax (or plug-in) still applies, its top-k is what the
classification extension answers (``"score:index[:label]"`` strings, the spec's labels).
"""
from __future__ import annotations

import numpy as np

from sanic_app.core import postprocess
from sanic_app.core.call import PredictCall
from sanic_app.core.spec import ModelConfig, OutputSpec
from sanic_app.errors import InvalidArgument
from sanic_app.http.v2_format import DATATYPES, InferRequest, OutputTensor, RequestedOutput, datatype_of


def predict_call(request: InferRequest, config: ModelConfig, model: str, version: int | None) -> PredictCall:
    values = {}
    for tensor in request.inputs:
        spec = config.inputs.get(tensor.name)
        value = tensor.value
        if spec is not None and spec.plugin is None:
            where = f"input {tensor.name!r}"
            if spec.kind == "image" and tensor.datatype == "BYTES":
                if value.ndim not in (1, 2) or (value.ndim == 2 and value.shape[1] != 1):
                    raise InvalidArgument(f"{where}: encoded images go in a BYTES tensor of shape [N] "
                                          f"or [N, 1], got {list(value.shape)}")
                value = value.reshape(-1).tolist()
            elif spec.kind == "bytes":
                if tensor.datatype != "BYTES":
                    raise InvalidArgument(f"{where}: the model takes BYTES, got {tensor.datatype}")
            elif DATATYPES[tensor.datatype] != spec.dtype:
                want = datatype_of(spec.dtype)
                also = " (or BYTES: encoded images)" if spec.kind == "image" else ""
                raise InvalidArgument(f"{where}: the model takes {want}{also}, got {tensor.datatype}")
        values[tensor.name] = value
    outputs = tuple(o.name for o in request.outputs) or None
    if outputs is not None and config.outputs:
        unknown = [name for name in outputs if name not in config.outputs]
        if unknown:
            raise InvalidArgument(f"unknown output(s) {', '.join(map(repr, unknown))}; model {model!r} "
                                  f"answers: {', '.join(config.outputs)}")
    return PredictCall(model=model, values=values, row=False, version=version,
                       signature_name=request.signature_name, deadline_s=request.timeout_s,
                       outputs=outputs, postprocess=False)


def classification(arr: np.ndarray, k: int, labels: tuple[str, ...] | None) -> np.ndarray:
    """Top k along the last axis as "score:index[:label]" BYTES, shape arr.shape[:-1] + [k]."""
    if arr.dtype == object or arr.dtype.kind not in "biuf" or arr.ndim < 1 or arr.shape[-1] == 0:
        raise InvalidArgument(f"classification needs a numeric output with a class axis, got "
                              f"{datatype_of(arr.dtype)} {list(arr.shape)}")
    rows = arr.reshape(-1, arr.shape[-1])
    best = postprocess.topk(rows, k, labels)
    items = [f"{str(item['score'])}:{item['class']}" + (f":{item['label']}" if "label" in item else "")
             for row in best for item in row]
    k = len(best[0]) if best else min(k, arr.shape[-1])
    return np.array([s.encode() for s in items], dtype=object).reshape(arr.shape[:-1] + (k,))


def _shaped(spec: OutputSpec | None, arr: np.ndarray) -> np.ndarray:
    """A spec's post-processing where its result is still a tensor (softmax, plug-ins)."""
    if spec is None or arr.dtype == object or spec.postprocess in ("raw", "topk"):
        return arr
    result = postprocess.apply(spec, arr)
    if not isinstance(result, np.ndarray):
        try:
            result = np.asarray(result)
        except ValueError:
            raise InvalidArgument(f"output {spec.name!r}: its post-processing does not give a tensor; "
                                  "ask for it through the v1 API") from None
    return result


def output_tensors(request: InferRequest, config: ModelConfig, outputs: dict[str, np.ndarray]) -> list[OutputTensor]:
    """The answer's tensors in the order asked (all, sorted by name, when none were asked)."""
    asked = request.outputs or None
    if asked is None:
        asked = [RequestedOutput(name) for name in sorted(outputs)]
    result = []
    for want in asked:
        if want.name not in outputs:
            raise InvalidArgument(f"the backend did not answer output {want.name!r}")
        spec = config.outputs.get(want.name)
        arr = outputs[want.name]
        if want.classification is not None:
            labels = spec.labels if spec is not None else None
            if spec is not None and spec.postprocess == "softmax":
                arr = postprocess.softmax(arr)
            value = classification(arr, want.classification, labels)
        else:
            value = _shaped(spec, arr)
        binary = want.binary if want.binary is not None else request.binary_output
        result.append(OutputTensor(want.name, value, binary))
    return result
