"""sanic_app.ops.memory: trim once after traffic stops, never while requests are in flight."""
import asyncio

import pytest

from sanic_app.ops import memory
from sanic_app.ops.admission import InFlightLimiter


@pytest.fixture
def trims(monkeypatch):
    calls = []
    monkeypatch.setattr(memory, "release_free_memory", lambda: calls.append(1) or True)
    return calls


def test_trims_once_after_a_quiet_interval_that_followed_traffic(trims):
    limiter = InFlightLimiter(4)

    async def scenario():
        task = asyncio.create_task(memory.release_when_idle(limiter, interval_s=0.02))
        await asyncio.sleep(0.07)
        assert trims == []  # no traffic yet: nothing to give back
        limiter.try_acquire()
        await asyncio.sleep(0.07)
        assert trims == []  # a request is still in flight
        limiter.release()
        await asyncio.sleep(0.1)
        assert trims == [1]  # idle after traffic: exactly one trim
        await asyncio.sleep(0.07)
        assert trims == [1]
        task.cancel()

    asyncio.run(scenario())


def test_steady_traffic_never_trims(trims):
    limiter = InFlightLimiter(4)

    async def scenario():
        task = asyncio.create_task(memory.release_when_idle(limiter, interval_s=0.03))
        for _ in range(20):  # a request every 10 ms, each finishing at once
            limiter.try_acquire()
            limiter.release()
            await asyncio.sleep(0.01)
        assert trims == []
        task.cancel()

    asyncio.run(scenario())
