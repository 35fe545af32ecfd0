"""LocalServe starts a real backend, reports it, and never leaves a process behind."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import grpc
import pytest

from sanic_app.localserve.process import LocalServe, LocalServeError
from sanic_app.protos import GET_MODEL_STATUS, PREDICT, serving_pb2


def _gone(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:  # a zombie child of ours still answers kill(0); reap it if it is ours
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return True
        except ChildProcessError:
            pass
        time.sleep(0.05)
    return False


def _status(target: str, name: str) -> serving_pb2.GetModelStatusResponse:
    with grpc.insecure_channel(target) as channel:
        call = channel.unary_unary(
            GET_MODEL_STATUS, request_serializer=serving_pb2.GetModelStatusRequest.SerializeToString,
            response_deserializer=serving_pb2.GetModelStatusResponse.FromString)
        request = serving_pb2.GetModelStatusRequest()
        request.model_spec.name = name
        return call(request, timeout=5)


def test_context_manager_serves_on_loopback_then_leaves_nothing():
    with LocalServe() as backend:
        pid, target = backend.pid, backend.target
        assert target.startswith("127.0.0.1:") and backend.models == ["digits"]
        assert _status(target, "digits").model_version_status[0].version == 1
    assert not backend.running
    assert _gone(pid, within=1)


def test_stop_is_idempotent_and_start_stop_can_be_explicit():
    backend = LocalServe("--null_model", "m:x=float32[-1,2]:y=float32[-1,1]").start()
    try:
        assert backend.models == ["m"]
        assert _status(backend.target, "m").model_version_status
    finally:
        backend.stop()
        backend.stop()
    assert backend.pid is None


def test_exception_inside_the_block_still_stops_the_backend():
    with pytest.raises(RuntimeError, match="boom"):
        with LocalServe() as backend:
            pid = backend.pid
            raise RuntimeError("boom")
    assert _gone(pid, within=1)


def test_bad_flags_fail_start_with_the_childs_stderr():
    with pytest.raises(LocalServeError) as caught:
        LocalServe("--null_model", "broken-spec").start()
    message = str(caught.value)
    assert "exited with code 2" in message
    assert "expected NAME:INPUTS:OUTPUTS" in message


def test_child_exits_when_its_parent_is_killed():
    # A parent process starts a backend, prints its pid, then is SIGKILLed: no chance to
    # run LocalServe.stop(). The backend must notice and exit on its own.
    script = textwrap.dedent("""
        import sys, time
        from sanic_app.localserve.process import LocalServe
        backend = LocalServe().start()
        print(backend.pid, flush=True)
        time.sleep(60)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        child_pid = int(parent.stdout.readline())
        os.kill(child_pid, 0)  # running
        parent.kill()
        parent.wait()
        assert _gone(child_pid, within=5)
    finally:
        parent.kill()
        parent.wait()
        parent.stdout.close()


def test_sigterm_stops_the_backend_cleanly():
    backend = LocalServe().start()
    process = backend._process
    os.kill(backend.pid, signal.SIGTERM)
    assert process.wait(5) == 0
    backend.stop()


def test_delay_ms_makes_deadlines_expire_and_the_server_lives_on():
    with LocalServe("--null_model", "m:x=float32[-1,2]:y=float32[-1,1]",
                    "--delay_ms", "400") as backend:
        request = serving_pb2.PredictRequest()
        request.model_spec.name = "m"
        x = request.inputs["x"]
        x.dtype = 1
        x.tensor_shape.dim.add(size=1)
        x.tensor_shape.dim.add(size=2)
        x.float_val.extend([1, 2])
        with grpc.insecure_channel(backend.target) as channel:
            call = channel.unary_unary(
                PREDICT, request_serializer=serving_pb2.PredictRequest.SerializeToString,
                response_deserializer=serving_pb2.PredictResponse.FromString)
            with pytest.raises(grpc.RpcError) as caught:
                call(request, timeout=0.1)
            assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            started = time.monotonic()
            assert len(call(request, timeout=5).outputs["y"].float_val) == 1
            assert time.monotonic() - started >= 0.35
