"""The lean-HTTP ceiling: the gateway's own predict path served without Sanic.

A what-if, not a product: it answers how much of the gateway's CPU per request is Sanic's
request machinery and the steps around it (hooks, access line, metrics, edge bookkeeping), by
serving TF Serving's ``POST /v1/models/{name}:predict`` with the gateway's core unchanged (URL
rules, JSON body form, the model's pipeline with its decoder, kernel, gRPC upstream and parts,
TF Serving's answer writer) behind a bare asyncio protocol with httptools' C parser. One
process, uvloop, HTTP/1.1 keep-alive, Content-Length bodies; nothing else (no limits, no
deadlines, no logs, no metrics): whatever the gateway spends above this is the price of
everything this leaves out.

    python -m bench.baselines.lean_http --port 8600 -s spec.json [gateway flags]

Compared with a ``--workers 1`` gateway by ``python -m bench.micro.bench_request_overhead --lean``.
"""
from __future__ import annotations

import asyncio
import sys
from concurrent.futures import ThreadPoolExecutor

from sanic_app.core.grpc_poller import use_classic_client_poller

use_classic_client_poller()  # the gateway's gRPC I/O path: like for like

import httptools  # noqa: E402
import uvloop  # noqa: E402

from sanic_app.core.limits import Limits  # noqa: E402
from sanic_app.core.registry import ModelRegistry  # noqa: E402
from sanic_app.core.spec import load_specs  # noqa: E402
from sanic_app.core.stages import StageTimings  # noqa: E402
from sanic_app.http import tfserving_json, tfserving_urls  # noqa: E402
from sanic_app.main import resolve  # noqa: E402
from sanic_app.ops.allocator import tune_allocator  # noqa: E402

HEAD = b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\nconnection: keep-alive\r\n\r\n"


class Lean(asyncio.Protocol):
    """One connection: parse with httptools, answer each request in order."""

    def __init__(self, server: "Server"):
        self.server = server
        self.parser = httptools.HttpRequestParser(self)
        self.transport = None
        self.url = b""
        self.body: list[bytes] = []
        self.queue: asyncio.Queue | None = None

    def connection_made(self, transport):
        self.transport = transport
        self.queue = asyncio.Queue()
        self.task = asyncio.get_running_loop().create_task(self.answer_in_order())

    def connection_lost(self, exc):
        self.task.cancel()

    def data_received(self, data: bytes):
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.close()

    # httptools callbacks
    def on_url(self, url: bytes):
        self.url += url

    def on_body(self, body: bytes):
        self.body.append(body)

    def on_message_complete(self):
        method = self.parser.get_method()
        self.queue.put_nowait((method, self.url, b"".join(self.body)))
        self.url, self.body = b"", []

    async def answer_in_order(self):
        while True:
            method, url, body = await self.queue.get()
            status, text = await self.server.handle(method, url.decode(), body)
            self.transport.write(HEAD % (status, b"OK" if status == 200 else b"Error", len(text)) + text)


class Server:
    def __init__(self, registry: ModelRegistry, limits: Limits):
        self.registry, self.limits = registry, limits

    async def handle(self, method: bytes, path: str, body: bytes) -> tuple[int, bytes]:
        if method == b"GET" and path == "/healthz":
            return 200, b'{"status": "alive"}'
        try:
            url = tfserving_urls.parse(method.decode(), path)
            call = tfserving_json.call_from_json(body, url.name, url.version, url.label, self.limits)
            pipeline = await self.registry.pipeline(url.name, url.version, url.label, call.signature_name)
            outputs = await pipeline.predict(tfserving_json.read_by_signature(call, pipeline.config),
                                             StageTimings())
            return 200, tfserving_json.predict_body(outputs, call.row)
        except Exception as exc:  # a bench: say what went wrong, keep serving
            return 500, b'{"error": "%s"}' % str(exc).replace('"', "'").encode()


async def serve(argv: list[str]) -> None:
    port = int(argv[argv.index("--port") + 1])
    settings = resolve(argv)
    tune_allocator()  # as a gateway worker does
    limits = Limits.from_settings(settings)
    executor = ThreadPoolExecutor(settings.decode_threads) if settings.decode_threads else None
    registry = ModelRegistry(settings, load_specs(settings.spec_paths), limits=limits, executor=executor)
    server = Server(registry, limits)
    loop = asyncio.get_running_loop()
    listener = await loop.create_server(lambda: Lean(server), "127.0.0.1", port)
    async with listener:
        await listener.serve_forever()


def main(argv=None) -> None:
    uvloop.run(serve(list(sys.argv[1:] if argv is None else argv)))


if __name__ == "__main__":
    main()
