"""TensorFlow SavedModels, served by TensorFlow itself (an optional extra, imported lazily).

As tensorflow_model_server does, --model_base_path names a directory whose numeric
subdirectories are versions; the highest one is loaded. Signatures for metadata and
validation come from the SavedModel's own MetaGraphDef (the `serve` tag set).
"""
import importlib
from pathlib import Path

import grpc
import numpy as np

from sanic_app.protos import tensor_pb2

from ..errors import ServingError
from ..signatures import Servable, Signature, TensorSpec

SERVE_TAG = "serve"


def latest_version_dir(base_path) -> tuple[int, Path]:
    """(version, directory) of the highest numeric subdirectory holding a saved_model.pb."""
    base = Path(base_path)
    if not base.is_dir():
        raise FileNotFoundError(f"model base path {base} is not a directory")
    versions = [(int(p.name), p) for p in base.iterdir()
                if p.is_dir() and p.name.isdigit() and (p / "saved_model.pb").is_file()]
    if not versions:
        raise FileNotFoundError(
            f"no versions found under base path {base}: expected numeric subdirectories "
            "holding a saved_model.pb, e.g. {base}/1/saved_model.pb".replace("{base}", str(base)))
    return max(versions)


def _tensor_spec(info: tensor_pb2.TensorInfo) -> TensorSpec:
    shape = None if info.tensor_shape.unknown_rank else tuple(
        d.size for d in info.tensor_shape.dim)
    return TensorSpec(info.name, info.dtype, shape)


def _fields(data: memoryview):
    """(field number, wire type, value) of one protobuf message; values of
    length-delimited fields are memoryviews into `data` (no copies)."""
    position, end = 0, len(data)

    def varint():
        nonlocal position
        value = shift = 0
        while True:
            if position >= end or shift > 63:
                raise ValueError("truncated or overlong varint in saved_model.pb")
            byte = data[position]
            position += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return value

    while position < end:
        key = varint()
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            yield number, wire_type, varint()
        elif wire_type == 2:
            length = varint()
            if position + length > end:
                raise ValueError("truncated field in saved_model.pb")
            yield number, wire_type, data[position:position + length]
            position += length
        elif wire_type in (1, 5):
            position += 8 if wire_type == 1 else 4
        else:
            raise ValueError(f"unsupported wire type {wire_type} in saved_model.pb")


# Field numbers in TensorFlow's saved_model.proto / meta_graph.proto.
_SAVED_MODEL_META_GRAPHS = 2
_META_GRAPH_INFO, _META_GRAPH_SIGNATURES = 1, 5
_META_INFO_TAGS = 4


def read_signature_defs(saved_model_dir: Path) -> dict[str, bytes]:
    """Serialized SignatureDefs of the `serve` MetaGraphDef, keyed by signature name.

    Walks saved_model.pb's wire format for the few fields needed (SavedModel.meta_graphs,
    MetaGraphDef.meta_info_def.tags and .signature_def), so reading metadata needs neither
    TensorFlow's internal proto modules nor a parse of the (possibly large) graph.
    """
    data = memoryview((saved_model_dir / "saved_model.pb").read_bytes())
    for number, _, meta_graph in _fields(data):
        if number != _SAVED_MODEL_META_GRAPHS:
            continue
        tags, signatures = set(), {}
        for field, _, value in _fields(meta_graph):
            if field == _META_GRAPH_INFO:
                tags |= {bytes(v).decode() for f, _, v in _fields(value) if f == _META_INFO_TAGS}
            elif field == _META_GRAPH_SIGNATURES:
                entry = {f: v for f, _, v in _fields(value)}
                signatures[bytes(entry.get(1, b"")).decode()] = bytes(entry.get(2, b""))
        if SERVE_TAG in tags:
            return signatures
    raise ValueError(f"{saved_model_dir} has no MetaGraphDef tagged {SERVE_TAG!r}")


class SavedModelServable(Servable):
    """Runs a SavedModel's signature functions eagerly and returns numpy outputs."""

    def __init__(self, name: str, base_path):
        version, directory = latest_version_dir(base_path)  # fail fast, before TF loads
        # The one place TensorFlow is ever loaded: the embedded backend, serving a SavedModel
        # (optional extra [savedmodel]). The gateway never imports this module
        # (tests/sanic_app/test_app.py checks that building the app loads no tensorflow).
        tf = importlib.import_module("tensorflow")

        super().__init__(name, version)
        self._tf = tf
        self._loaded = tf.saved_model.load(str(directory), tags=[SERVE_TAG])
        self._functions = dict(self._loaded.signatures)
        for key, raw in read_signature_defs(directory).items():
            if key not in self._functions:
                # e.g. __saved_model_init_op: listed by GetModelMetadata, never runnable
                self.extra_metadata[key] = raw
                continue
            proto = tensor_pb2.SignatureDef()
            proto.ParseFromString(raw)
            self.signatures[key] = Signature(
                inputs={a: _tensor_spec(i) for a, i in proto.inputs.items()},
                outputs={a: _tensor_spec(i) for a, i in proto.outputs.items()},
                method_name=proto.method_name,
            )

    def run(self, signature_name, inputs, output_aliases):
        tf = self._tf
        feeds = {alias: tf.constant(array) for alias, array in inputs.items()}
        try:
            results = self._functions[signature_name](**feeds)
        except (tf.errors.InvalidArgumentError, TypeError, ValueError) as error:
            # TF Serving passes the graph's complaint on as INVALID_ARGUMENT.
            raise ServingError(grpc.StatusCode.INVALID_ARGUMENT, str(error)) from None
        return {alias: np.asarray(results[alias].numpy()) for alias in output_aliases}

    def run_on_examples(self, signature_name, input_alias, serialized, output_aliases):
        """A classification/regression signature on serialized tf.Examples (localserve/examples)."""
        return self.run(signature_name, {input_alias: np.array(serialized, dtype=object)},
                        output_aliases)
