"""The KServe peer: what a user choosing KServe would write in front of TF Serving.

A ``kserve.Model`` subclass run by KServe's own ``ModelServer`` (FastAPI + uvicorn, ``--workers
N`` spawned processes sharing the port), speaking KServe's v1 protocol, which is TF Serving's:
``POST /v1/models/NAME:predict`` with ``{"instances": [{"b64": ...}]}``. ``preprocess`` decodes
the images with Pillow and numpy, ``predict`` calls TF Serving's ``Predict`` over grpc.aio (the
channel is made lazily, inside the worker that uses it), ``postprocess`` answers top-k rows. Two
variants, picked with ``--variant``:

* ``tf``: tensorflow-serving-api's ``PredictionServiceStub`` and ``tf.make_tensor_proto`` /
  ``tf.make_ndarray``, as KServe's and TF Serving's examples do; every worker imports TensorFlow.
* ``lean``: no TensorFlow; the TensorProto is built by hand (kserve_logic.tensor_proto) from TF
  Serving's messages compiled with grpcio-tools into the venv by kserve_env.sh (``tfs_lean``).

Everything else is KServe's defaults (its per-request latency log line and access log included).
Runs only in the venv kserve_env.sh creates; bench/contenders.py starts it::

    /work/venvs/kserve/bin/python -m bench.baselines.kserve_peer --variant lean --spec S.json \
        --model_name inceptionv3 --predictor_host 127.0.0.1:8500 --http_port 8080 --workers 2 \
        --enable_grpc false
"""
from __future__ import annotations

import argparse
import importlib
from pathlib import Path

import grpc
import kserve
from kserve.errors import InvalidInput

from bench.baselines import kserve_logic as logic


class ImageTransformer(kserve.Model):
    """preprocess (Pillow + numpy) -> predict (TF Serving over gRPC) -> postprocess (top-k)."""

    def __init__(self, name: str, predictor_host: str, spec: Path, max_send_bytes: int,
                 max_receive_bytes: int):
        super().__init__(name)
        self.predictor_host = predictor_host
        self.cfg = logic.ModelConfig.from_spec(spec)
        self.max_send_bytes, self.max_receive_bytes = max_send_bytes, max_receive_bytes
        self._channel = None  # made in the worker process, on its first request
        self.ready = True

    def channel(self) -> grpc.aio.Channel:
        if self._channel is None:
            self._channel = grpc.aio.insecure_channel(self.predictor_host, options=[
                ("grpc.max_send_message_length", self.max_send_bytes),
                ("grpc.max_receive_message_length", self.max_receive_bytes)])
        return self._channel

    def preprocess(self, payload, headers=None):
        try:
            return logic.batch_from_v1(payload, self.cfg)
        except logic.BadRequest as exc:
            raise InvalidInput(str(exc)) from exc

    def postprocess(self, result, headers=None):
        return {"predictions": logic.top_k(result, self.cfg.top_k)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(parents=[kserve.model_server.parser])
    parser.add_argument("--variant", choices=("tf", "lean"), default="tf")
    parser.add_argument("--spec", required=True, help="our model spec JSON (image input)")
    args, _ = parser.parse_known_args(argv)
    module = importlib.import_module(f"bench.baselines.kserve_peer_{args.variant}")
    model = module.Transformer(args.model_name, args.predictor_host, Path(args.spec),
                               args.grpc_max_send_message_length,
                               args.grpc_max_receive_message_length)
    kserve.ModelServer().start([model])


if __name__ == "__main__":
    main()
