"""Start what a load run compares: the backend, the gateway (with or without fastpack's
extensions; over TCP, or as a sidecar over a Unix socket), the old design under
gunicorn/eventlet, the KServe peer (its own venv), bare Sanic, and the direct-gRPC client.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import scenarios, sidecar
from bench.served_models import Models
from bench.services import (Service, all_workers_answer, all_workers_warmed, bench_env,
                            free_port, http_ok, python_module)

KSERVE_VARIANTS = {"kserve": "tf", "kserve_lean": "lean"}  # baseline key -> --variant
MAX_MESSAGE_BYTES = 256 * 2**20  # the gateway's default --max-message-bytes
TF_LIBRARY = "_pywrap_tensorflow_internal"  # mapped once a worker has imported TensorFlow


def kserve_python(args) -> Path:
    return Path(args.kserve_venv) / "bin" / "python"


def kserve_missing(args) -> str:
    """Why the KServe peer cannot run here ('' when it can)."""
    if kserve_python(args).exists():
        return ""
    return (f"no KServe venv at {args.kserve_venv} (create it with "
            "`bash bench/baselines/kserve_env.sh`); KServe peer skipped")


def start_backend(args, models: Models, logs: Path, socket_path: Path | None = None) -> Service:
    """The null backend on a loopback port, and also on ``socket_path`` when given (the
    sidecar gateway's hop, as TF Serving's --grpc_socket_path)."""
    port = free_port()
    argv = python_module("sanic_app.localserve", "--port", str(port), *models.null_model_flags())
    if args.backend_delay_ms:
        argv += ["--delay_ms", str(args.backend_delay_ms)]
    if socket_path:
        argv += ["--grpc_socket_path", str(socket_path)]
    return Service("backend", argv, port, log_dir=logs).start(timeout=60)


def start_gateway(args, models: Models, backend: str, logs: Path, name: str = "gateway",
                  extra: tuple[str, ...] = (), workers: int | None = None, **env) -> Service:
    port = free_port()
    argv = python_module("sanic_app", "--workers", str(workers or args.workers), "--port",
                         str(port), "--host", "127.0.0.1", "--target", backend,
                         "-s", str(models.image_spec), "-s", str(models.tiny_spec), *extra)
    svc = Service(name, argv, port, env=bench_env(**env), log_dir=logs)
    return svc.start(ready=http_ok("/healthz"), timeout=90)


def socket_folder() -> tempfile.TemporaryDirectory:
    """A short-named folder for the backend's Unix socket (AF_UNIX paths stop at 107 bytes, so
    not under a long $TMPDIR or --out)."""
    return tempfile.TemporaryDirectory(prefix="sidecar-", dir="/tmp")


def start_sidecar(args, models: Models, socket_path: Path, logs: Path) -> Service:
    """A second gateway, its own specs, reaching the backend only by ``unix:socket_path``;
    clients still reach it over loopback TCP, like the TCP gateway."""
    target = f"unix:{socket_path}"
    side = models.moved_to(models.folder / sidecar.KEY)
    side.write_specs(target)
    return start_gateway(args, side, target, logs, name="gateway_sidecar")


def start_old_design(args, models: Models, backend: str, logs: Path) -> Service:
    port = free_port()
    argv = [sys.executable, "-m", "gunicorn", "-k", "eventlet", "-w", str(args.workers),
            "-b", f"127.0.0.1:{port}", "--worker-connections", "1000", "--timeout", "120",
            "--log-level", "warning", "bench.baselines.old_design:app"]
    env = bench_env(OLD_DESIGN_SPEC=str(models.image_spec), OLD_DESIGN_TARGET=backend,
                    TF_CPP_MIN_LOG_LEVEL="2")
    svc = Service("old_design", argv, port, env=env, log_dir=logs)
    return svc.start(ready=all_workers_answer("/healthz", args.workers), timeout=180)


def start_kserve(args, models: Models, backend: str, logs: Path, key: str = "kserve") -> Service:
    """The KServe peer (bench/baselines/kserve_peer.py) under its venv's interpreter."""
    port = free_port()
    argv = [str(kserve_python(args)), "-m", "bench.baselines.kserve_peer",
            "--variant", KSERVE_VARIANTS[key], "--spec", str(models.image_spec),
            "--model_name", models.image_model, "--predictor_host", backend,
            "--http_port", str(port), "--workers", str(args.workers), "--enable_grpc", "false",
            # KServe's 8 MB default would refuse the 8.6 MB tensor of 8 images; as the gateway
            "--grpc_max_send_message_length", str(MAX_MESSAGE_BYTES),
            "--grpc_max_receive_message_length", str(MAX_MESSAGE_BYTES)]
    env = bench_env(TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("VIRTUAL_ENV", None)
    svc = Service(key, argv, port, env=env, log_dir=logs)
    # the tf variant imports TensorFlow on a worker's first request (see kserve_peer_tf.py)
    warm = scenarios.jpeg_small(models.context(f"127.0.0.1:{port}"))[0]
    marker = TF_LIBRARY if KSERVE_VARIANTS[key] == "tf" else ""
    return svc.start(ready=all_workers_warmed(f"/v1/models/{models.image_model}", args.workers,
                                              warm, marker), timeout=240)


def start_bare_sanic(args, logs: Path) -> Service:
    port = free_port()
    argv = python_module("sanic", "bench.baselines.bare_sanic:app", "--workers",
                         str(args.workers), "--port", str(port), "--host", "127.0.0.1",
                         "--no-access-logs")
    return Service("bare_sanic", argv, port, log_dir=logs).start(ready=http_ok("/healthz"),
                                                                timeout=60)


def direct_grpc(args, models: Models, scenario, backend: str) -> dict:
    """One window of the direct-gRPC client in its own process (its CPU is its own)."""
    model, inputs = models.grpc_inputs(scenario)
    argv = python_module("bench.baselines.direct_grpc", "--target", backend, "--model", model,
                         "--signature", models.signature if scenario.model == "image"
                         else "serving_default", "--concurrency", str(args.concurrency),
                         "--warmup", str(args.warmup), "--duration", str(args.duration))
    for flag in inputs:
        argv += ["--input", flag]
    done = subprocess.run(argv, env=bench_env(), capture_output=True, text=True,
                          timeout=args.warmup + args.duration + 120)
    if done.returncode != 0:
        return {"error": (done.stderr or done.stdout)[-500:]}
    return json.loads(done.stdout.strip().splitlines()[-1])
