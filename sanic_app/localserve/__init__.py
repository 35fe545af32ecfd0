"""The embedded TF Serving-compatible backend: the default, the demo and the test bed.

A gRPC server answering tensorflow.serving.PredictionService/Predict, .../GetModelMetadata
and ModelService/GetModelStatus with TF Serving's codes and messages. It serves the numpy
`digits` model, null models of any signature (benchmarks) and, when TensorFlow is installed,
SavedModels. Run it with ``python -m sanic_app.localserve`` (see cli.py) or start it from
Python with ``sanic_app.localserve.process.LocalServe``. Nothing here is imported by the
gateway's hot path; importing this package loads nothing heavy.
"""
