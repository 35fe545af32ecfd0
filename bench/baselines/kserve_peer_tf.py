"""The KServe peer's ``tf`` variant: tensorflow-serving-api's stub and ``tf.make_tensor_proto``,
as KServe's and TF Serving's examples write it. Every worker imports TensorFlow."""
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from bench.baselines.kserve_peer import ImageTransformer


class Transformer(ImageTransformer):
    _stub = None

    async def predict(self, payload, headers=None):
        if self._stub is None:
            self._stub = prediction_service_pb2_grpc.PredictionServiceStub(self.channel())
        request = predict_pb2.PredictRequest()
        request.model_spec.name = self.cfg.model
        request.model_spec.signature_name = self.cfg.signature
        request.inputs[self.cfg.input_name].CopyFrom(
            tf.make_tensor_proto(payload, shape=payload.shape))
        response = await self._stub.Predict(request, timeout=self.cfg.deadline_s)
        return tf.make_ndarray(response.outputs[self.cfg.output_name])
