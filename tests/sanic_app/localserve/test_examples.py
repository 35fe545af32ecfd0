"""The embedded backend's Classify/Regress plumbing, without TensorFlow: examples merged over
the context, signature checks, and the answer built from a servable's outputs."""
import grpc
import numpy as np
import pytest

from sanic_app.localserve import examples
from sanic_app.localserve.errors import ServingError
from sanic_app.localserve.signatures import Servable, Signature, TensorSpec
from sanic_app.protos import example_pb2, tensor_pb2


def request_input(context=None, *rows):
    msg = example_pb2.Input()
    target = msg.example_list_with_context if context is not None else msg.example_list
    if context is not None:
        for k, v in context.items():
            msg.example_list_with_context.context.features.feature[k].float_list.value.append(v)
    for row in rows:
        example = target.examples.add()
        for k, v in row.items():
            example.features.feature[k].float_list.value.append(v)
    return msg


def test_context_features_are_merged_under_each_examples_own():
    serialized = examples.serialized_examples(request_input({"k": 3.0, "x": 0.0}, {"x": 2.0}, {"x": 1.0, "k": 2.0}))
    merged = [example_pb2.Example.FromString(s) for s in serialized]
    assert [(e.features.feature["x"].float_list.value[0], e.features.feature["k"].float_list.value[0])
            for e in merged] == [(2.0, 3.0), (1.0, 2.0)]
    with pytest.raises(ServingError, match="Input is empty"):
        examples.serialized_examples(example_pb2.Input())


class Doubler(Servable):
    """Scores each example's x and 2x, or regresses to 2x."""

    def run_on_examples(self, signature_name, input_alias, serialized, output_aliases):
        xs = np.array([example_pb2.Example.FromString(s).features.feature["x"].float_list.value[0]
                       for s in serialized], np.float32)
        if signature_name == "regress":
            return {"outputs": 2 * xs}
        return {"classes": np.array([[b"one", b"two"]] * len(xs), object),
                "scores": np.stack([xs, 2 * xs], axis=1)}


def servable():
    string = TensorSpec("tf_example:0", tensor_pb2.DT_STRING, (-1,))
    floats = TensorSpec("y:0", tensor_pb2.DT_FLOAT, (-1, 2))
    s = Doubler("m", 3)
    s.signatures = {
        "classify": Signature({"inputs": string}, {"classes": floats, "scores": floats}, examples.CLASSIFY_METHOD),
        "regress": Signature({"inputs": string}, {"outputs": floats}, examples.REGRESS_METHOD),
        "serving_default": Signature({"x": floats}, {"y": floats}),
    }
    return s


def test_classify_and_regress_answers():
    request = example_pb2.ClassificationRequest(input=request_input(None, {"x": 1.5}, {"x": 4.0}))
    request.model_spec.signature_name = "classify"
    answer = example_pb2.ClassificationResponse.FromString(examples.classify(servable(), request))
    assert [[(c.label, c.score) for c in r.classes] for r in answer.result.classifications] == [
        [("one", 1.5), ("two", 3.0)], [("one", 4.0), ("two", 8.0)]]
    assert answer.model_spec.version.value == 3
    request = example_pb2.RegressionRequest(input=request_input(None, {"x": 1.5}))
    request.model_spec.signature_name = "regress"
    answer = example_pb2.RegressionResponse.FromString(examples.regress(servable(), request))
    assert [r.value for r in answer.result.regressions] == [3.0]


def test_wrong_signature_kind_and_servables_without_examples():
    request = example_pb2.ClassificationRequest(input=request_input(None, {"x": 1.0}))
    with pytest.raises(ServingError) as info:
        examples.classify(servable(), request)  # serving_default is a predict signature
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert info.value.message == ("Expected classification signature method_name to be "
                                  "tensorflow/serving/classify. Was: tensorflow/serving/predict")
    plain = servable()
    plain.__class__ = Servable  # no run_on_examples: a numpy model
    request.model_spec.signature_name = "classify"
    with pytest.raises(ServingError) as info:
        examples.classify(plain, request)
    assert info.value.code == grpc.StatusCode.UNIMPLEMENTED
