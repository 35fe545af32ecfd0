"""The three RPC bodies on raw bytes: Predict, GetModelMetadata, GetModelStatus.

Handlers receive and return serialized messages so the gRPC layer (sync or asyncio) stays a
thin adapter, and so Predict can assemble its response from pre-encoded tensors instead of
building protobuf objects for large outputs. Validation follows TF Serving's order: model
spec, servable, signature, input count, input names and parsing, output filter, then
dtypes and shapes (which TensorFlow itself would reject when running the graph).
"""
import numpy as np
from google.protobuf.message import DecodeError

from sanic_app.protos import SIGNATURE_DEF_MAP_URL, example_pb2, serving_pb2

from . import errors, examples
from .registry import Registry
from .signatures import DEFAULT_SIGNATURE, datatype_name, datatype_of, shape_text
from .tensors import TensorParseError, length_delimited, to_numpy, to_proto_bytes

_SIGNATURE_DEF = "signature_def"


def _parse(message_class, data: bytes):
    message = message_class()
    try:
        message.ParseFromString(data)
    except DecodeError:
        raise errors.ServingError(errors.grpc.StatusCode.INVALID_ARGUMENT,
                                  f"Failed to parse {message_class.__name__}") from None
    return message


def _spec_choice(model_spec) -> tuple[int | None, str | None]:
    which = model_spec.WhichOneof("version_choice")
    if which == "version":
        return model_spec.version.value, None
    if which == "version_label":
        return None, model_spec.version_label
    return None, None


class BackendService:
    """Answers the TF Serving RPCs for the servables in a Registry."""

    def __init__(self, registry: Registry, tensor_content: bool = False):
        self.registry = registry
        self.tensor_content = tensor_content

    def _servable(self, request):
        if not request.HasField("model_spec"):
            raise errors.missing_model_spec()
        version, label = _spec_choice(request.model_spec)
        return self.registry.resolve(request.model_spec.name, version, label)

    # --- Predict -------------------------------------------------------------------------

    def predict(self, data: bytes) -> bytes:
        request = _parse(serving_pb2.PredictRequest, data)
        servable = self._servable(request)
        signature_name = request.model_spec.signature_name or DEFAULT_SIGNATURE
        signature = servable.signatures.get(signature_name)
        if signature is None:
            raise errors.signature_not_found(signature_name)
        sent = set(request.inputs.keys())
        if len(sent) != len(signature.inputs):
            raise errors.input_size_mismatch(sent, signature.inputs)
        inputs = {}
        for alias, spec in signature.inputs.items():
            if alias not in sent:
                raise errors.input_not_in_request(alias, spec.name, sent)
            try:
                inputs[alias] = to_numpy(request.inputs[alias])
            except TensorParseError:
                raise errors.tensor_parsing_error(alias) from None
        output_aliases = self._output_aliases(request.output_filter, signature)
        self._check_inputs(inputs, signature)
        outputs = servable.run(signature_name, inputs, output_aliases)
        return self._predict_response(request.model_spec.name, servable.version, signature_name,
                                      outputs)

    @staticmethod
    def _output_aliases(output_filter, signature) -> list[str]:
        aliases = []
        for alias in output_filter:
            if alias not in signature.outputs:
                raise errors.unknown_output(alias, signature.outputs)
            if alias in aliases:
                raise errors.duplicate_output(alias)
            aliases.append(alias)
        return aliases or list(signature.outputs)

    @staticmethod
    def _check_inputs(inputs, signature) -> None:
        for position, alias in enumerate(sorted(signature.inputs)):
            spec, array = signature.inputs[alias], inputs[alias]
            given = datatype_of(array)
            if given != spec.datatype:
                raise errors.wrong_dtype(position, datatype_name(spec.datatype),
                                         datatype_name(given))
            if not spec.accepts_shape(array.shape):
                raise errors.wrong_shape(alias, shape_text(spec.shape), shape_text(array.shape))

    def _predict_response(self, name, version, signature_name, outputs) -> bytes:
        spec = serving_pb2.ModelSpec(name=name, signature_name=signature_name)
        spec.version.value = version
        parts = []
        for alias, array in outputs.items():
            entry = length_delimited(1, alias.encode()) + length_delimited(
                2, to_proto_bytes(np.asarray(array), self.tensor_content))
            parts.append(length_delimited(1, entry))
        parts.append(length_delimited(2, spec.SerializeToString()))
        return b"".join(parts)

    # --- Classify, Regress (localserve/examples) -------------------------------------------

    def classify(self, data: bytes) -> bytes:
        request = _parse(example_pb2.ClassificationRequest, data)
        return examples.classify(self._servable(request), request)

    def regress(self, data: bytes) -> bytes:
        request = _parse(example_pb2.RegressionRequest, data)
        return examples.regress(self._servable(request), request)

    # --- GetModelMetadata ----------------------------------------------------------------

    def get_model_metadata(self, data: bytes) -> bytes:
        request = _parse(serving_pb2.GetModelMetadataRequest, data)
        if not request.HasField("model_spec"):
            raise errors.missing_model_spec()
        if not request.metadata_field:
            raise errors.no_metadata_field()
        for field in request.metadata_field:
            if field != _SIGNATURE_DEF:
                raise errors.unsupported_metadata_field(field)
        servable = self._servable(request)
        signature_map = serving_pb2.SignatureDefMap()
        for key, signature in servable.signatures.items():
            signature_map.signature_def[key].CopyFrom(signature.to_proto())
        for key, raw in servable.extra_metadata.items():
            signature_map.signature_def[key].ParseFromString(raw)
        response = serving_pb2.GetModelMetadataResponse()
        response.model_spec.name = servable.name
        response.model_spec.version.value = servable.version
        packed = response.metadata[_SIGNATURE_DEF]
        packed.type_url = SIGNATURE_DEF_MAP_URL
        packed.value = signature_map.SerializeToString(deterministic=True)
        return response.SerializeToString()

    # --- GetModelStatus ------------------------------------------------------------------

    def get_model_status(self, data: bytes) -> bytes:
        request = _parse(serving_pb2.GetModelStatusRequest, data)
        if not request.HasField("model_spec"):
            raise errors.missing_model_spec()
        name = request.model_spec.name
        loaded = self.registry.versions(name)
        version, _ = _spec_choice(request.model_spec)
        if version is not None:
            if version not in loaded:
                raise errors.no_such_version(name, version)
            versions = [version]
        else:
            # TF Serving reports every version it knows; a label does not narrow it.
            if not loaded:
                raise errors.no_versions(name)
            versions = list(loaded)
        response = serving_pb2.GetModelStatusResponse()
        for number in versions:
            status = response.model_version_status.add(
                version=number, state=serving_pb2.ModelVersionStatus.AVAILABLE)
            status.status.SetInParent()  # OK, with an empty message, as TF Serving sends
        return response.SerializeToString()
