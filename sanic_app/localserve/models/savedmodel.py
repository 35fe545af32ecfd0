"""TensorFlow SavedModels, served by TensorFlow itself (an optional extra, imported lazily).

As tensorflow_model_server does, --model_base_path names a directory whose numeric
subdirectories are versions; the highest one is loaded. Signatures for metadata and
validation come from the SavedModel's own MetaGraphDef (the `serve` tag set).
"""
from pathlib import Path

import numpy as np

from sanic_app.protos import tensor_pb2

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


def read_signature_defs(saved_model_dir: Path) -> dict[str, bytes]:
    """Serialized SignatureDefs of the `serve` MetaGraphDef, keyed by signature name."""
    from tensorflow.core.protobuf import saved_model_pb2

    saved_model = saved_model_pb2.SavedModel()
    saved_model.ParseFromString((saved_model_dir / "saved_model.pb").read_bytes())
    for meta_graph in saved_model.meta_graphs:
        if SERVE_TAG in meta_graph.meta_info_def.tags:
            return {key: sig.SerializeToString() for key, sig in meta_graph.signature_def.items()}
    raise ValueError(f"{saved_model_dir} has no MetaGraphDef tagged {SERVE_TAG!r}")


class SavedModelServable(Servable):
    """Runs a SavedModel's signature functions eagerly and returns numpy outputs."""

    def __init__(self, name: str, base_path):
        version, directory = latest_version_dir(base_path)  # fail fast, before TF loads
        import tensorflow as tf

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
        results = self._functions[signature_name](**feeds)
        return {alias: np.asarray(results[alias].numpy()) for alias in output_aliases}
