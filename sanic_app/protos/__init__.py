"""Our own TF Serving wire definitions.

The ``*_pb2`` modules are generated from the ``.proto`` files beside this file when the
package is built (``pip install .`` runs protoc through ``setup.py``). Message names live
in the ``tfsgw`` proto package, so they never collide with TensorFlow's descriptors; the
bytes on the wire are the same as TF Serving's. gRPC routes by method path, not by message
name, so the paths below are the official ones.
"""

PREDICTION_SERVICE = "tensorflow.serving.PredictionService"
MODEL_SERVICE = "tensorflow.serving.ModelService"

PREDICT = f"/{PREDICTION_SERVICE}/Predict"
GET_MODEL_METADATA = f"/{PREDICTION_SERVICE}/GetModelMetadata"
CLASSIFY = f"/{PREDICTION_SERVICE}/Classify"
REGRESS = f"/{PREDICTION_SERVICE}/Regress"
GET_MODEL_STATUS = f"/{MODEL_SERVICE}/GetModelStatus"

# The type URL TF Serving puts on the Any in GetModelMetadataResponse.metadata["signature_def"].
SIGNATURE_DEF_MAP_URL = "type.googleapis.com/tensorflow.serving.SignatureDefMap"
