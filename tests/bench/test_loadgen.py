"""bench/loadgen.py against a small real HTTP server on loopback with a known service time."""
import asyncio
import threading

import pytest

from bench import loadgen
from bench.procs import free_port

DELAY_S = 0.04


class _SlowServer:
    """Answers every request after DELAY_S; /err answers 500. One request at a time per socket."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.port = None

    def _run(self):
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self.server = server
        self.ready.set()
        self.loop.run_forever()

    async def _handle(self, reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                await reader.readexactly(length)
                await asyncio.sleep(DELAY_S)
                status = b"500 Internal Server Error" if b" /err " in head else b"200 OK"
                writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    def __enter__(self):
        self.thread.start()
        self.ready.wait(5)
        return self

    def __exit__(self, *exc):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture(scope="module")
def server():
    with _SlowServer() as s:
        yield s


def _req(server, path):
    return loadgen.build_request("POST", path, f"127.0.0.1:{server.port}", b"{}")


def test_closed_loop_counts_statuses_and_measures_service_time(server):
    result = loadgen.run_load("127.0.0.1", server.port, [_req(server, "/ok"), _req(server, "/err")],
                              concurrency=2, warmup_s=0.1, duration_s=0.6)
    summary = result.summary()
    # two connections, each alternating ok/err at one request per DELAY_S
    assert set(summary["statuses"]) == {"200", "500"}
    assert abs(summary["statuses"]["200"] - summary["statuses"]["500"]) <= 2
    assert summary["errors"] == {"500": summary["statuses"]["500"]}
    assert DELAY_S * 1000 <= summary["latency_ms"]["p50"] < DELAY_S * 1000 * 2.5
    assert 0.6 * (2 / DELAY_S) * 0.6 < summary["requests"] <= 0.7 * (2 / DELAY_S)
    assert summary["response_bytes_per_request"] == 2


def test_open_loop_charges_queueing_to_the_requests(server):
    """One connection that can serve 25/s, asked for 50/s: requests wait for their turn, and that
    wait must show in the latency (measured from the intended send time), not be hidden."""
    result = loadgen.run_load("127.0.0.1", server.port, [_req(server, "/ok")], concurrency=1,
                              rate=50, warmup_s=0.0, duration_s=1.0)
    summary = result.summary()
    assert summary["service_ms_p50"] < DELAY_S * 1000 * 2.5
    assert summary["latency_ms"]["p99"] > 8 * DELAY_S * 1000  # the backlog grew past 10 requests
    assert summary["late_sends"] > 10


def test_refused_connections_are_errors_not_crashes():
    port = free_port()  # a port nobody listens on
    result = loadgen.run_load("127.0.0.1", port, [b"GET / HTTP/1.1\r\n\r\n"], concurrency=1,
                              warmup_s=0.0, duration_s=0.2)
    assert result.completed > 0
    assert set(result.summary()["errors"]) == {"conn_error"}
