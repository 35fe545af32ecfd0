"""The KServe peer's ``tf`` variant: tensorflow-serving-api's stub and ``tf.make_tensor_proto`` /
``tf.make_ndarray``, as KServe's and TF Serving's examples write it. Every worker imports
TensorFlow, on its first request rather than at the top of this module: KServe's supervisor pings
each spawned worker with a 5 s timeout from a thread the worker only starts after unpickling its
model (which imports the model's module), so on a busy 2-core machine, where importing
TensorFlow takes longer than that, the supervisor killed and respawned workers forever. The
per-request work is the same either way; run_load's readiness probe sends requests until every
worker has TensorFlow mapped, so no measured window pays for the import."""
from bench.baselines.kserve_peer import ImageTransformer

tf = predict_pb2 = prediction_service_pb2_grpc = None  # set by _import_tensorflow()


def _import_tensorflow() -> None:
    global tf, predict_pb2, prediction_service_pb2_grpc
    import tensorflow
    from tensorflow_serving.apis import predict_pb2 as messages
    from tensorflow_serving.apis import prediction_service_pb2_grpc as services

    tf, predict_pb2, prediction_service_pb2_grpc = tensorflow, messages, services


class Transformer(ImageTransformer):
    _stub = None

    async def predict(self, payload, headers=None):
        if self._stub is None:
            if tf is None:
                _import_tensorflow()
            self._stub = prediction_service_pb2_grpc.PredictionServiceStub(self.channel())
        request = predict_pb2.PredictRequest()
        request.model_spec.name = self.cfg.model
        request.model_spec.signature_name = self.cfg.signature
        request.inputs[self.cfg.input_name].CopyFrom(
            tf.make_tensor_proto(payload, shape=payload.shape))
        response = await self._stub.Predict(request, timeout=self.cfg.deadline_s)
        return tf.make_ndarray(response.outputs[self.cfg.output_name])
