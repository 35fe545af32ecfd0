"""Classify and Regress for the embedded backend, as TF Serving runs them on a SavedModel.

The request's examples are serialized (with the context's features merged under each
example's own, as TF Serving does) into the one DT_STRING input of a signature whose
method_name is tensorflow/serving/classify or /regress; the signature's "classes" / "scores"
or "outputs" tensors become the answer. Only servables that can run a signature on raw
example bytes (SavedModels) serve these calls; others answer UNIMPLEMENTED.
"""
import grpc
import numpy as np

from sanic_app.protos import example_pb2, serving_pb2

from .errors import ServingError
from .signatures import DEFAULT_SIGNATURE

CLASSIFY_METHOD = "tensorflow/serving/classify"
REGRESS_METHOD = "tensorflow/serving/regress"


def _invalid(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.INVALID_ARGUMENT, message)


def serialized_examples(request_input) -> list[bytes]:
    kind = request_input.WhichOneof("kind")
    if kind == "example_list":
        examples = list(request_input.example_list.examples)
        if not examples:
            raise _invalid("Input is empty.")
        return [e.SerializeToString() for e in examples]
    if kind == "example_list_with_context":
        listed = request_input.example_list_with_context
        if not listed.examples:
            raise _invalid("Input is empty.")
        merged = []
        for example in listed.examples:
            one = example_pb2.Example()
            one.CopyFrom(listed.context)
            one.MergeFrom(example)
            merged.append(one.SerializeToString())
        return merged
    raise _invalid("Input is empty.")


def _signature(servable, signature_name: str, method: str, what: str):
    from . import errors

    name = signature_name or DEFAULT_SIGNATURE
    signature = servable.signatures.get(name)
    if signature is None:
        raise errors.signature_not_found(name)
    if signature.method_name != method:
        raise _invalid(f"Expected {what} signature method_name to be {method}. Was: "
                       f"{signature.method_name}")
    if len(signature.inputs) != 1:
        raise _invalid("Expected one input Tensor.")
    return name, signature, next(iter(signature.inputs))


def _runner(servable):
    run = getattr(servable, "run_on_examples", None)
    if run is None:
        raise ServingError(grpc.StatusCode.UNIMPLEMENTED,
                           f"model {servable.name} serves Predict only (Classify and Regress "
                           "need a SavedModel with a classification or regression signature)")
    return run


def _model_spec(servable, signature_name: str):
    spec = serving_pb2.ModelSpec(name=servable.name, signature_name=signature_name)
    spec.version.value = servable.version
    return spec


def classify(servable, request) -> bytes:
    name, signature, input_alias = _signature(servable, request.model_spec.signature_name,
                                              CLASSIFY_METHOD, "classification")
    wanted = [a for a in ("classes", "scores") if a in signature.outputs]
    if not wanted:
        raise _invalid("Expected classification signature outputs to contain classes or scores.")
    serialized = serialized_examples(request.input)
    batch = len(serialized)
    outputs = _runner(servable)(name, input_alias, serialized, wanted)
    classes = outputs.get("classes")
    scores = outputs.get("scores")
    classes = None if classes is None else np.asarray(classes).reshape(batch, -1)
    scores = None if scores is None else np.asarray(scores, np.float32).reshape(batch, -1)
    count = (classes if classes is not None else scores).shape[1]
    response = example_pb2.ClassificationResponse(model_spec=_model_spec(servable, name))
    for i in range(batch):
        row = response.result.classifications.add()
        for j in range(count):
            label = b"" if classes is None else classes[i][j]
            if isinstance(label, bytes):
                label = label.decode("utf-8", "replace")
            row.classes.add(label=str(label), score=0.0 if scores is None else float(scores[i][j]))
    return response.SerializeToString()


def regress(servable, request) -> bytes:
    name, signature, input_alias = _signature(servable, request.model_spec.signature_name,
                                              REGRESS_METHOD, "regression")
    if "outputs" not in signature.outputs:
        raise _invalid("No output Tensor named outputs in signature.")
    serialized = serialized_examples(request.input)
    values = _runner(servable)(name, input_alias, serialized, ["outputs"])["outputs"]
    values = np.asarray(values, np.float32).reshape(len(serialized), -1)
    if values.shape[1] != 1:
        raise _invalid(f"Expected output Tensor shape to be either [batch_size] or "
                       f"[batch_size, 1] but got {list(values.shape)}")
    response = example_pb2.RegressionResponse(model_spec=_model_spec(servable, name))
    for value in values[:, 0]:
        response.result.regressions.add(value=float(value))
    return response.SerializeToString()
