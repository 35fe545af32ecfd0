"""The KServe peer's ``lean`` variant: no TensorFlow. TF Serving's messages come from the
``tfs_lean`` protos that kserve_env.sh compiles into the venv with grpcio-tools; the tensor is
packed by hand (dtype, shape, raw bytes) and the call goes through a plain grpc.aio method."""
from tfs_lean import serving_pb2, tensor_pb2

from bench.baselines import kserve_logic as logic
from bench.baselines.kserve_peer import ImageTransformer

PREDICT = "/tensorflow.serving.PredictionService/Predict"


class Transformer(ImageTransformer):
    _predict = None

    async def predict(self, payload, headers=None):
        if self._predict is None:
            self._predict = self.channel().unary_unary(
                PREDICT, request_serializer=serving_pb2.PredictRequest.SerializeToString,
                response_deserializer=serving_pb2.PredictResponse.FromString)
        request = serving_pb2.PredictRequest()
        request.model_spec.name = self.cfg.model
        request.model_spec.signature_name = self.cfg.signature
        request.inputs[self.cfg.input_name].CopyFrom(
            logic.tensor_proto(payload, tensor_pb2.TensorProto))
        response = await self._predict(request, timeout=self.cfg.deadline_s)
        return logic.ndarray(response.outputs[self.cfg.output_name])
