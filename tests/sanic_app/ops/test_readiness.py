"""Readiness against a real gRPC status server on loopback: states, caching, failures."""
import asyncio

import grpc

from sanic_app.ops.readiness import ModelProbe, Readiness
from sanic_app.protos import GET_MODEL_STATUS, MODEL_SERVICE, serving_pb2


class StatusServer:
    """A grpc.aio server answering GetModelStatus from a dict name -> [(version, state)]."""

    def __init__(self, models):
        self.models = models
        self.calls = 0

    async def _status(self, data: bytes, context):
        self.calls += 1
        request = serving_pb2.GetModelStatusRequest.FromString(data)
        versions = self.models.get(request.model_spec.name)
        if versions is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such model")
        response = serving_pb2.GetModelStatusResponse()
        for version, state in versions:
            response.model_version_status.add(version=version, state=state)
        return response.SerializeToString()

    async def __aenter__(self):
        self.server = grpc.aio.server()
        handler = grpc.unary_unary_rpc_method_handler(self._status)
        self.server.add_generic_rpc_handlers(
            [grpc.method_handlers_generic_handler(MODEL_SERVICE, {"GetModelStatus": handler})]
        )
        port = self.server.add_insecure_port("127.0.0.1:0")
        await self.server.start()
        self.channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        return self

    async def __aexit__(self, *exc):
        await self.channel.close()
        await self.server.stop(0)

    async def call(self, path, request, timeout):
        assert path == GET_MODEL_STATUS
        return await self.channel.unary_unary(path)(request, timeout=timeout)


AVAILABLE = serving_pb2.ModelVersionStatus.AVAILABLE
LOADING = serving_pb2.ModelVersionStatus.LOADING


def run(coro):
    return asyncio.run(coro)


def test_ready_when_every_model_has_an_available_version():
    async def scenario():
        async with StatusServer({"a": [(1, AVAILABLE)], "b": [(3, LOADING), (2, AVAILABLE)]}) as srv:
            readiness = Readiness(lambda: [ModelProbe("a", None, srv), ModelProbe("b", 2, srv)])
            return await readiness.check()

    assert run(scenario()) == (True, [])


def test_not_ready_names_the_model_and_state():
    async def scenario():
        async with StatusServer({"a": [(1, AVAILABLE)], "b": [(3, LOADING)]}) as srv:
            readiness = Readiness(lambda: [
                ModelProbe("a", None, srv), ModelProbe("b", 3, srv), ModelProbe("c", None, srv)
            ])
            return await readiness.check()

    ok, reasons = run(scenario())
    assert not ok
    assert "model 'b': version 3 is not AVAILABLE (3:LOADING)" in reasons
    assert any(r.startswith("model 'c': status check failed") and "no such model" in r for r in reasons)
    assert len(reasons) == 2


def test_results_are_cached_and_concurrent_probes_share_one_check():
    now = [100.0]

    async def scenario():
        async with StatusServer({"a": [(1, AVAILABLE)]}) as srv:
            readiness = Readiness(lambda: [ModelProbe("a", None, srv)], ttl_s=1.0, clock=lambda: now[0])
            results = await asyncio.gather(*(readiness.check() for _ in range(20)))
            assert all(r == (True, []) for r in results)
            assert srv.calls == 1
            now[0] += 0.5
            await readiness.check()
            assert srv.calls == 1
            now[0] += 1.0
            srv.models["a"] = [(1, LOADING)]
            assert (await readiness.check())[0] is False
            assert srv.calls == 2

    run(scenario())


def test_unreachable_backend_is_not_ready_quickly():
    class Dead:
        def __init__(self):
            self.channel = grpc.aio.insecure_channel("127.0.0.1:1")

        async def call(self, path, request, timeout):
            return await self.channel.unary_unary(path)(request, timeout=timeout)

    async def scenario():
        dead = Dead()
        readiness = Readiness(lambda: [ModelProbe("a", None, dead)], timeout_s=0.5)
        loop = asyncio.get_running_loop()
        started = loop.time()
        ok, reasons = await readiness.check()
        await dead.channel.close()
        return ok, reasons, loop.time() - started

    ok, reasons, took = run(scenario())
    assert not ok and "status check failed" in reasons[0]
    assert took < 3.0


def test_no_models_is_not_ready():
    assert run(Readiness(lambda: []).check()) == (False, ["no models configured"])
