"""Command line of the embedded backend, named after tensorflow_model_server's flags.

    python -m sanic_app.localserve --port 8500                        # digits
    python -m sanic_app.localserve --port 8500 --model_name m --model_base_path /models/m
    python -m sanic_app.localserve --port 0 \\
        --null_model 'inception:images=float32[-1,299,299,3]:scores=float32[-1,1001]'

Once serving, one JSON line goes to stdout: {"ready": "host:port", "models": [...], "pid": N}
(--port 0 picks a free port; LocalServe reads that line), plus "socket": "unix:PATH" with
--grpc_socket_path (served as well as the port, as tensorflow_model_server does). Logs go to
stderr.
"""
import argparse
import asyncio
import json
import logging
import os
import signal
import stat
import sys
import threading
import time

import grpc

from .registry import Registry
from .service import BackendService

log = logging.getLogger("sanic_app.localserve")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m sanic_app.localserve",
        description="A TF Serving-compatible gRPC backend: digits, null models, SavedModels.")
    parser.add_argument("--port", type=int, default=8500,
                        help="gRPC port (0: any free port, reported on stdout)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    parser.add_argument("--grpc_socket_path", default=None, metavar="PATH",
                        help="also serve gRPC on this Unix domain socket (relative or absolute), "
                             "e.g. a socket in an emptyDir shared with the gateway")
    parser.add_argument("--model_name", default=None,
                        help="name of the served model (default 'digits', or 'default' "
                             "with --model_base_path, as tensorflow_model_server)")
    parser.add_argument("--model_base_path", default=None,
                        help="SavedModel base directory with numeric version subdirectories "
                             "(needs TensorFlow); the highest version is served")
    parser.add_argument("--model_config_file", default=None,
                        help="not supported; present so TF Serving command lines fail clearly")
    parser.add_argument("--null_model", action="append", default=[], metavar="NAME:IN:OUT",
                        help="serve a null model, e.g. "
                             "'inception:images=float32[-1,299,299,3]:scores=float32[-1,1001]'"
                             " (repeatable)")
    parser.add_argument("--version_label", action="append", default=[], metavar="LABEL=VERSION",
                        help="version label for --model_name (repeatable)")
    parser.add_argument("--delay_ms", type=float, default=0.0,
                        help="artificial latency added to every Predict (deadline tests)")
    parser.add_argument("--tensor_content", action="store_true",
                        help="answer tensors in tensor_content instead of TF Serving's *_val")
    parser.add_argument("--grpc_impl", choices=("aio", "sync"), default="sync",
                        help="thread pool (default; faster for 1 MB requests on 2 cores) or grpc.aio")
    parser.add_argument("--grpc_workers", type=int, default=32,
                        help="threads serving RPCs with --grpc_impl sync")
    parser.add_argument("--ssl_cert", default=None,
                        help="serve TLS with this certificate chain (PEM; needs --ssl_key)")
    parser.add_argument("--ssl_key", default=None, help="private key (PEM) of --ssl_cert")
    parser.add_argument("--ssl_client_ca", default=None,
                        help="require client certificates signed by these roots (mTLS)")
    parser.add_argument("--parent_pid", type=int, default=None,
                        help="exit when this process is gone (LocalServe passes its own pid)")
    args = parser.parse_args(argv)
    if args.model_config_file:
        parser.error("--model_config_file is not supported; use --model_name/--model_base_path "
                     "and --null_model")
    if bool(args.ssl_cert) != bool(args.ssl_key) or (args.ssl_client_ca and not args.ssl_cert):
        parser.error("--ssl_cert and --ssl_key go together; --ssl_client_ca needs them")
    if args.grpc_workers < 1:
        parser.error("--grpc_workers must be >= 1")
    if args.delay_ms < 0:
        parser.error("--delay_ms must be >= 0")
    if args.version_label and not (args.model_name or not args.null_model):
        parser.error("--version_label applies to --model_name's model")
    return args


def build_registry(args) -> Registry:
    """Load every model the flags ask for (TensorFlow only for --model_base_path)."""
    registry = Registry()
    if args.model_base_path:
        from .models.savedmodel import SavedModelServable

        registry.add(SavedModelServable(args.model_name or "default", args.model_base_path))
    elif args.model_name or not args.null_model:
        from .models.digits import DigitsModel

        registry.add(DigitsModel(name=args.model_name or "digits"))
    if args.null_model:
        from .models.null import NullModel

        for text in args.null_model:
            null = NullModel.from_spec(text)
            if null.name in registry.model_names:
                raise ValueError(f"model name {null.name!r} is served twice")
            registry.add(null)
    main_model = registry.model_names[0]
    for item in args.version_label:
        label, _, version = item.partition("=")
        if not label or not version.isdigit():
            raise ValueError(f"--version_label {item!r}: expected LABEL=VERSION, e.g. stable=1")
        registry.add_label(main_model, label, int(version))
    return registry


def _watch_parent(parent_pid: int) -> None:
    """SIGTERM ourselves once the parent is gone, so a killed parent leaves nothing behind."""

    def watch():
        while True:
            time.sleep(0.2)
            if os.getppid() != parent_pid:
                os.kill(os.getpid(), signal.SIGTERM)
                return

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _announce(host: str, port: int, registry: Registry, socket_path: str | None) -> None:
    line = {"ready": f"{host}:{port}", "models": registry.model_names, "pid": os.getpid()}
    if socket_path:
        line["socket"] = f"unix:{socket_path}"
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()
    log.info("serving %s on %s:%d%s", ", ".join(registry.model_names), host, port,
             f" and unix:{socket_path}" if socket_path else "")


def _bind_socket(server, path: str | None) -> None:
    """Add the Unix socket listener (a stale socket file from a killed run is replaced)."""
    if not path:
        return
    if os.path.exists(path) and stat.S_ISSOCK(os.stat(path).st_mode):
        os.unlink(path)
    if not server.add_insecure_port(f"unix:{path}"):
        raise OSError(f"cannot bind unix:{path}")


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _credentials(args):
    """grpc server credentials for --ssl_cert/--ssl_key (and --ssl_client_ca), else None."""
    if not args.ssl_cert:
        return None
    with open(args.ssl_cert, "rb") as cert, open(args.ssl_key, "rb") as key:
        pair = (key.read(), cert.read())
    client_ca = None
    if args.ssl_client_ca:
        with open(args.ssl_client_ca, "rb") as ca:
            client_ca = ca.read()
    return grpc.ssl_server_credentials([pair], root_certificates=client_ca,
                                       require_client_auth=client_ca is not None)


async def _serve_aio(service, args, registry) -> None:
    from .server import build_aio_server

    server, port = build_aio_server(service, _address(args.host, args.port), args.delay_ms,
                                    _credentials(args))
    if not port:
        raise OSError(f"cannot bind {args.host}:{args.port}")
    _bind_socket(server, args.grpc_socket_path)
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    _announce(args.host, port, registry, args.grpc_socket_path)
    await stop.wait()
    await server.stop(grace=0.5)


def _serve_sync(service, args, registry) -> None:
    from .server import build_sync_server

    server, port = build_sync_server(service, _address(args.host, args.port), args.delay_ms,
                                     args.grpc_workers, _credentials(args))
    if not port:
        raise OSError(f"cannot bind {args.host}:{args.port}")
    _bind_socket(server, args.grpc_socket_path)
    server.start()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    _announce(args.host, port, registry, args.grpc_socket_path)
    while not stop.wait(0.5):
        pass
    server.stop(grace=0.5).wait()


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s localserve %(levelname)s %(message)s")
    args = parse_args(argv)
    if args.parent_pid is not None:
        if os.getppid() != args.parent_pid:
            return 0  # the parent died before we even started
        _watch_parent(args.parent_pid)
    try:
        registry = build_registry(args)
    except (ValueError, OSError, ImportError) as error:
        log.error("cannot load models: %s", error)
        return 2
    service = BackendService(registry, tensor_content=args.tensor_content)
    try:
        if args.grpc_impl == "aio":
            asyncio.run(_serve_aio(service, args, registry))
        else:
            _serve_sync(service, args, registry)
    except OSError as error:
        log.error("%s", error)
        return 1
    return 0
