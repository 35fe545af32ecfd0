"""The TF Serving client: grpc.aio channels created inside the worker that uses them.

Predict goes out as fastpack's bytes and comes back as bytes (no serializer on either side,
so no protobuf objects on the hot path). Metadata and status, off the hot path, use our own
wire-compatible protos. Several addresses are used round-robin.
"""
from __future__ import annotations

import itertools

import grpc

from sanic_app.errors import from_grpc
from sanic_app.protos import GET_MODEL_METADATA, GET_MODEL_STATUS, PREDICT


def channel_options(max_message_bytes: int) -> list[tuple[str, int]]:
    """Raised message limits (gRPC's 4 MB default is too small for image batches) and
    keepalive pings only while calls are in flight, which TF Serving's default policy allows."""
    return [
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.keepalive_time_ms", 60_000),
        ("grpc.keepalive_timeout_ms", 20_000),
        ("grpc.keepalive_permit_without_calls", 0),
        ("grpc.http2.max_pings_without_data", 0),
    ]


def _identity(data: bytes) -> bytes:
    return data


class Upstream:
    """Channels to one set of TF Serving addresses; create only inside a running worker."""

    def __init__(self, addresses: tuple[str, ...], *, max_message_bytes: int):
        self.addresses = tuple(addresses)
        self._channels = [grpc.aio.insecure_channel(a, options=channel_options(max_message_bytes))
                          for a in self.addresses]
        self._methods = [
            {
                path: ch.unary_unary(path, request_serializer=None, response_deserializer=None)
                for path in (PREDICT, GET_MODEL_METADATA, GET_MODEL_STATUS)
            }
            for ch in self._channels
        ]
        self._next = itertools.cycle(range(len(self._channels)))

    async def call(self, path: str, request: bytes, timeout: float) -> bytes:
        """One raw unary call; grpc errors become UpstreamError with TF Serving's code."""
        index = next(self._next)
        try:
            return await self._methods[index][path](request, timeout=timeout)
        except grpc.RpcError as err:
            raise from_grpc(err, self.addresses[index]) from None

    async def predict(self, request: bytes, timeout: float) -> bytes:
        return await self.call(PREDICT, request, timeout)

    async def close(self) -> None:
        for ch in self._channels:
            await ch.close()


class UpstreamPool:
    """One Upstream per address set, per worker."""

    def __init__(self, max_message_bytes: int):
        self._max_message_bytes = max_message_bytes
        self._by_addresses: dict[tuple[str, ...], Upstream] = {}

    def get(self, addresses: tuple[str, ...]) -> Upstream:
        upstream = self._by_addresses.get(addresses)
        if upstream is None:
            upstream = Upstream(addresses, max_message_bytes=self._max_message_bytes)
            self._by_addresses[addresses] = upstream
        return upstream

    async def close(self) -> None:
        for upstream in self._by_addresses.values():
            await upstream.close()
        self._by_addresses.clear()
