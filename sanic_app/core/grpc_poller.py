"""Which I/O path gRPC core gives the gateway's client calls: its classic poller.

With grpcio's default (the EventEngine client), a unary call's answer crosses four threads
before the handler sees it: EventEngine's poller wakes one of its workers, which reads the
socket and wakes grpc.aio's completion-queue thread, which wakes the event loop. Counted with
``python -m bench.micro.syscalls_per_request`` (grpcio 1.85, f32[1,8]): 21 system calls per
request, 4 of them futex. With the ``event_engine_client`` experiment off, the completion-queue
thread polls the socket itself: 13 system calls, no futex, and less CPU per request (figures
in the README's performance section).

``GRPC_EXPERIMENTS`` is read when the ``grpc`` module is imported, so ``python -m sanic_app``
sets it before importing anything else (this module does not import grpc), and the workers,
started as new interpreters, inherit it. A value the operator set (even empty) is kept. It is
applied only to the grpcio releases it was measured on: a later release may have retired the
classic path, and gRPC core logs an unknown experiment name as an error.
"""
from __future__ import annotations

import os
from importlib import metadata

VARIABLE = "GRPC_EXPERIMENTS"
CLASSIC_CLIENT = "-event_engine_client"
MEASURED_ON = ("1.85.",)  # grpcio release lines this was measured on


def grpcio_version() -> str:
    try:
        return metadata.version("grpcio")
    except metadata.PackageNotFoundError:
        return ""


def use_classic_client_poller(environ=os.environ, version: str | None = None) -> bool:
    """Turn the EventEngine client off for processes that import grpc from now on (this one
    too, if it has not yet); whether it did."""
    if VARIABLE in environ:
        return False
    if not (version if version is not None else grpcio_version()).startswith(MEASURED_ON):
        return False
    environ[VARIABLE] = CLASSIC_CLIENT
    return True


def describe(environ=os.environ) -> str:
    """The start-up log's line on it: what gRPC core will read in the workers."""
    value = environ.get(VARIABLE)
    if value is None:
        return f"gRPC client I/O: grpcio's default ({VARIABLE} unset)"
    return f"gRPC client I/O: {VARIABLE}={value!r}"
