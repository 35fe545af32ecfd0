"""Helpers for the operations e2e tests: spec files, worker pids, load, a counting backend."""
from __future__ import annotations

import json
import os
import threading
import time
from concurrent import futures
from pathlib import Path

import grpc
import httpx
import numpy as np

from bench.procs import free_port  # noqa: F401  (re-exported for the ops tests)
from sanic_app.protos import GET_MODEL_STATUS, MODEL_SERVICE, PREDICTION_SERVICE, serving_pb2

# Not imported from conftest: with several conftest.py files in the tree, "conftest" names
# whichever was imported first.
SPECS = Path(__file__).resolve().parents[2] / "specs"


# The null model every ops test serves: x float32 [-1, 4] -> y float32 [-1, 2].
NULL_MODEL = "m:x=float32[-1,4]:y=float32[-1,2]"
GOOD_BODY = json.dumps({"instances": [[1.0, 2.0, 3.0, 4.0]]}).encode()


def write_spec(directory: Path, addresses=None, deadline_ms=None, name="m") -> str:
    doc = {
        "model": {"name": name, "signature_name": "serving_default", "version": None, "version_label": None},
        "inputs": {"x": {"kind": "tensor", "dtype": "float32", "shape": [-1, 4]}},
        "outputs": {"y": {"postprocess": "raw"}},
    }
    if addresses:
        doc["target"] = {"addresses": list(addresses)}
        if deadline_ms:
            doc["target"]["deadline_ms"] = deadline_ms
    path = directory / f"{name}.json"
    path.write_text(json.dumps(doc))
    return str(path)


def worker_pids(main_pid: int) -> set[int]:
    """Pids of the Sanic workers (spawned children) of the gateway's main process."""
    pids = set()
    task_dir = Path(f"/proc/{main_pid}/task")
    for task in task_dir.iterdir():
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            try:
                environ = Path(f"/proc/{child}/environ").read_bytes().split(b"\0")
            except OSError:
                continue
            # Sanic names its HTTP workers; other spawned helpers (resource tracker, ...) not.
            if any(v.startswith(b"SANIC_WORKER_NAME=Sanic-Server-") for v in environ):
                pids.add(int(child))
    return pids


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead for our purposes
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def rss_bytes(pid: int, field: str = "VmRSS") -> int:
    """Resident memory now (VmRSS) or its peak so far (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def metric_value(text: str, name: str, **labels) -> float:
    """Sum of samples named ``name`` whose labels include ``labels`` (0 if none)."""
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


class Load:
    """``threads`` clients posting GOOD_BODY in a loop; records (t_start, status, seconds)."""

    def __init__(self, url: str, path: str, threads: int = 4, timeout: float = 10.0):
        self.url, self.path, self.timeout = url, path, timeout
        self.results: list[tuple[float, int, float]] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self):
        with httpx.Client(base_url=self.url, timeout=self.timeout) as client:
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    status = client.post(self.path, content=GOOD_BODY,
                                         headers={"content-type": "application/json"}).status_code
                except httpx.HTTPError:
                    status = -1  # the connection itself failed: never acceptable here
                with self._lock:
                    self.results.append((started, status, time.monotonic() - started))
                time.sleep(0.005)

    def __enter__(self):
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for t in self._threads:
            t.join(30)

    def between(self, start: float, end: float):
        with self._lock:
            return [r for r in self.results if start <= r[0] < end]


class CountingBackend:
    """A real gRPC server on loopback answering the null model and counting Predict calls.

    Used where the test must know which replica served a call; the embedded backend does not
    expose per-process counts.
    """

    def __init__(self):
        self.predicts = 0
        self._lock = threading.Lock()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        predict = grpc.unary_unary_rpc_method_handler(self._predict)
        status = grpc.unary_unary_rpc_method_handler(self._status)
        self.server.add_generic_rpc_handlers([
            grpc.method_handlers_generic_handler(PREDICTION_SERVICE, {"Predict": predict}),
            grpc.method_handlers_generic_handler(MODEL_SERVICE, {"GetModelStatus": status}),
        ])
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.target = f"127.0.0.1:{self.port}"
        assert GET_MODEL_STATUS.endswith("GetModelStatus")

    def _predict(self, data: bytes, context) -> bytes:
        request = serving_pb2.PredictRequest.FromString(data)
        rows = request.inputs["x"].tensor_shape.dim[0].size
        with self._lock:
            self.predicts += 1
        response = serving_pb2.PredictResponse()
        out = response.outputs["y"]
        out.dtype = 1  # DT_FLOAT
        out.tensor_shape.dim.add(size=rows)
        out.tensor_shape.dim.add(size=2)
        out.tensor_content = np.full((rows, 2), float(self.port), np.float32).tobytes()
        response.model_spec.name = request.model_spec.name
        response.model_spec.version.value = 1
        return response.SerializeToString()

    def _status(self, data: bytes, context) -> bytes:
        response = serving_pb2.GetModelStatusResponse()
        response.model_version_status.add(version=1, state=serving_pb2.ModelVersionStatus.AVAILABLE)
        return response.SerializeToString()

    def start(self):
        self.server.start()
        return self

    def stop(self):
        self.server.stop(0).wait(5)
