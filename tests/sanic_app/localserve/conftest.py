"""Fixtures for the embedded backend's tests: official TF Serving stubs on a real channel."""
import pytest

INCEPTION = "inception:images=float32[-1,299,299,3]:scores=float32[-1,1001]"
MULTI = "multi:a=int64[-1,3],b=string[-1]:x=float64[-1,2],y=int32[-1],z=bool[-1,2]"


@pytest.fixture(scope="module")
def official():
    """The official tensorflow-serving-api modules (imports TensorFlow, ~5 s once)."""
    import tensorflow as tf
    from tensorflow_serving.apis import (get_model_metadata_pb2, get_model_status_pb2,
                                         model_service_pb2_grpc, predict_pb2,
                                         prediction_service_pb2_grpc)

    class Official:
        pass

    api = Official()
    api.tf, api.predict_pb2 = tf, predict_pb2
    api.metadata_pb2, api.status_pb2 = get_model_metadata_pb2, get_model_status_pb2
    api.prediction_grpc, api.model_grpc = prediction_service_pb2_grpc, model_service_pb2_grpc
    return api


class Stubs:
    """Official PredictionService and ModelService stubs on one channel."""

    def __init__(self, official, target):
        import grpc

        self.channel = grpc.insecure_channel(
            target, options=[("grpc.max_receive_message_length", -1),
                             ("grpc.max_send_message_length", -1)])
        self.prediction = official.prediction_grpc.PredictionServiceStub(self.channel)
        self.model = official.model_grpc.ModelServiceStub(self.channel)


@pytest.fixture(scope="module")
def stubs_for(official):
    opened = []

    def make(backend):
        stubs = Stubs(official, backend.target)
        opened.append(stubs)
        return stubs

    yield make
    for stubs in opened:
        stubs.channel.close()
