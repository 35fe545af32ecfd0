"""The grpc.aio client against a real gRPC server on loopback: raw bytes both ways, deadlines,
message limits above gRPC's 4 MB default, and TF Serving's codes carried through."""
import asyncio
import threading
from concurrent import futures

import grpc
import pytest

from bench.procs import free_port
from sanic_app.errors import UpstreamError
from sanic_app.protos import PREDICT
from sanic_app.core.upstream import Upstream


@pytest.fixture(scope="module")
def server():
    """Echo Predict (reversed bytes); b"slow" sleeps; b"missing" answers NOT_FOUND."""
    seen = []

    def predict(request: bytes, context):
        seen.append(len(request))
        if request == b"slow":
            threading.Event().wait(1.0)
        if request == b"missing":
            context.abort(grpc.StatusCode.NOT_FOUND, "Servable not found for request: Latest(m)")
        return request[::-1]

    handler = grpc.method_handlers_generic_handler(
        "tensorflow.serving.PredictionService",
        {"Predict": grpc.unary_unary_rpc_method_handler(predict)})  # no (de)serializers: bytes
    options = [("grpc.max_receive_message_length", 64 << 20), ("grpc.max_send_message_length", 64 << 20)]
    srv = grpc.server(futures.ThreadPoolExecutor(4), handlers=[handler], options=options)
    port = srv.add_insecure_port("127.0.0.1:0")
    srv.start()
    yield f"127.0.0.1:{port}", seen
    srv.stop(0)


def run(coro_fn):
    return asyncio.run(coro_fn())


def test_bytes_go_out_and_come_back_as_is(server):
    target, _ = server

    async def go():
        upstream = Upstream((target,), max_message_bytes=64 << 20)
        try:
            small = await upstream.predict(b"abc", 5.0)
            big = await upstream.predict(b"x" * (6 << 20) + b"y", 10.0)  # over gRPC's 4 MB default
            return small, big
        finally:
            await upstream.close()

    small, big = run(go)
    assert small == b"cba" and len(big) == (6 << 20) + 1 and big[0:1] == b"y"


def test_deadline_and_codes(server):
    target, _ = server

    async def go():
        upstream = Upstream((target,), max_message_bytes=8 << 20)
        try:
            with pytest.raises(UpstreamError) as slow:
                await upstream.predict(b"slow", 0.2)
            with pytest.raises(UpstreamError) as missing:
                await upstream.predict(b"missing", 5.0)
            return slow.value, missing.value
        finally:
            await upstream.close()

    slow, missing = run(go)
    assert slow.status == 504
    assert missing.status == 404 and missing.message == "Servable not found for request: Latest(m)"


def test_unreachable_backend_is_503():
    port = free_port()  # closed again: nobody listens there

    async def go():
        upstream = Upstream((f"127.0.0.1:{port}",), max_message_bytes=8 << 20)
        try:
            with pytest.raises(UpstreamError) as info:
                await upstream.predict(b"x", 2.0)
            return info.value
        finally:
            await upstream.close()

    err = run(go)
    assert err.status == 503 and f"127.0.0.1:{port}" in err.message


# --- balancing and the one safe retry (operations, issue 6) -----------------------------------

def test_channel_targets_share_one_balanced_channel_for_ip_literals():
    from sanic_app.core.upstream import channel_targets

    assert channel_targets(("127.0.0.1:1",)) == ["127.0.0.1:1"]
    assert channel_targets(("10.0.0.1:8500", "10.0.0.2:8500")) == ["ipv4:10.0.0.1:8500,10.0.0.2:8500"]
    assert channel_targets(("[::1]:1", "[::1]:2")) == ["ipv6:[::1]:1,[::1]:2"]
    assert channel_targets(("tfs.svc:8500",)) == ["dns:///tfs.svc:8500"]
    assert channel_targets(("a:1", "10.0.0.1:2")) == ["dns:///a:1", "10.0.0.1:2"]


def test_unix_and_dns_uri_targets_go_to_grpc_as_written():
    from sanic_app.core.upstream import channel_targets

    assert channel_targets(("unix:/run/tfs/tfs.sock",)) == ["unix:/run/tfs/tfs.sock"]
    assert channel_targets(("unix:///run/tfs.sock", "tfs:8500")) == ["unix:///run/tfs.sock", "dns:///tfs:8500"]
    assert channel_targets(("dns://127.0.0.1:5353/tfs:8500",)) == ["dns://127.0.0.1:5353/tfs:8500"]


def test_calls_that_reached_a_backend_are_never_retried():
    """UNAVAILABLE from TF Serving itself and DEADLINE_EXCEEDED: exactly one call arrives."""
    from sanic_app.core.upstream import never_sent

    calls = []

    def predict(request: bytes, context):
        calls.append(request)
        if request == b"busy":
            context.abort(grpc.StatusCode.UNAVAILABLE, "model is reloading")
        threading.Event().wait(0.5)
        return b""

    handler = grpc.method_handlers_generic_handler(
        "tensorflow.serving.PredictionService", {"Predict": grpc.unary_unary_rpc_method_handler(predict)})
    srv = grpc.server(futures.ThreadPoolExecutor(2), handlers=[handler])
    port = srv.add_insecure_port("127.0.0.1:0")
    srv.start()

    async def go():
        upstream = Upstream((f"127.0.0.1:{port}",), max_message_bytes=8 << 20)
        try:
            with pytest.raises(UpstreamError) as busy:
                await upstream.predict(b"busy", 5.0)
            with pytest.raises(UpstreamError) as slow:
                await upstream.predict(b"slow", 0.2)
            return busy.value, slow.value
        finally:
            await upstream.close()

    try:
        busy, slow = run(go)
    finally:
        srv.stop(0)
    assert busy.status == 503 and slow.status == 504
    assert calls == [b"busy", b"slow"]

    async def unreachable():
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")  # the server is gone now
        try:
            await channel.unary_unary(PREDICT)(b"x", timeout=2.0)
        except grpc.RpcError as err:
            return err
        finally:
            await channel.close()

    assert never_sent(run(unreachable))
