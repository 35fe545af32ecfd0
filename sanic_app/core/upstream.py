"""The TF Serving client: grpc.aio channels created inside the worker that uses them.

Predict goes out as fastpack's bytes and comes back as bytes (no serializer on either side,
so no protobuf objects on the hot path). Metadata and status, off the hot path, use our own
wire-compatible protos. Several addresses are spread by gRPC's round_robin policy; a call
that could not reach any backend is retried once after a short backoff.
"""
from __future__ import annotations

import asyncio
import ipaddress
import itertools
import random
import time

import grpc

from sanic_app.core.backend_target import is_uri
from sanic_app.core import tls as tlsmod
from sanic_app.core.tls import TlsSpec
from sanic_app.errors import from_grpc
from sanic_app.protos import CLASSIFY, GET_MODEL_METADATA, GET_MODEL_STATUS, PREDICT, REGRESS


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
        # Spread calls over every address of a target (an ipv4:a,b list or a DNS name's records);
        # a replica that is down is skipped until it reconnects.
        ("grpc.lb_policy_name", "round_robin"),
        # Reconnect soon after a backend restarts: gRPC's default backoff grows to 120 s.
        ("grpc.initial_reconnect_backoff_ms", 100),
        ("grpc.min_reconnect_backoff_ms", 100),
        ("grpc.max_reconnect_backoff_ms", 1000),
        # Backends are addressed directly; an http_proxy in the environment must not reroute them.
        ("grpc.enable_http_proxy", 0),
    ]


def _ip_literal(host: str) -> int | None:
    try:
        return ipaddress.ip_address(host.strip("[]")).version
    except ValueError:
        return None


def channel_targets(addresses: tuple[str, ...]) -> list[str]:
    """gRPC targets for a set of host:port addresses, as few channels as balancing allows.

    IP literals of one family share one channel (``ipv4:a:p,b:q``) that gRPC's round_robin
    spreads; a single host name becomes ``dns:///name:port`` (round_robin over its records).
    Several host names get a channel each, used in turn by the Upstream. ``unix:`` and
    ``dns:`` targets (see backend_target) go to gRPC as written, one channel each.
    """
    if any(is_uri(a) for a in addresses):  # unix: sockets and dns: with a resolver, as written
        return [a if is_uri(a) or _ip_literal(a.rsplit(":", 1)[0]) else f"dns:///{a}" for a in addresses]
    hosts = [a.rsplit(":", 1)[0] for a in addresses]
    families = {_ip_literal(h) for h in hosts}
    if len(families) == 1 and None not in families:
        if len(addresses) == 1:
            return [addresses[0]]
        return [f"ipv{families.pop()}:" + ",".join(addresses)]
    return [a if _ip_literal(h) else f"dns:///{a}" for a, h in zip(addresses, hosts)]


# One retry, and only for calls that never reached a backend (the connection failed), so a
# Predict is never run twice; never after DEADLINE_EXCEEDED or any answer from TF Serving.
RETRY_BACKOFF_S = 0.1
_NOT_SENT_MARKERS = ("connections to all backends failing", "failed to connect")


def never_sent(err: grpc.RpcError) -> bool:
    try:
        if err.code() != grpc.StatusCode.UNAVAILABLE:
            return False
        details = (err.details() or "").lower()
    except Exception:
        return False
    return any(marker in details for marker in _NOT_SENT_MARKERS)


class Upstream:
    """Channels to one set of TF Serving addresses; create only inside a running worker."""

    def __init__(self, addresses: tuple[str, ...], *, max_message_bytes: int, tls: TlsSpec | None = None):
        self.addresses = tuple(addresses)
        self.targets = channel_targets(self.addresses)
        self.tls = tls
        self._tls_failures = tlsmod.FailureLog(",".join(self.addresses)) if tls is not None else None
        self._channels = [self._channel(t, max_message_bytes) for t in self.targets]
        self._methods = [
            {
                path: ch.unary_unary(path, request_serializer=None, response_deserializer=None)
                for path in (PREDICT, GET_MODEL_METADATA, GET_MODEL_STATUS, CLASSIFY, REGRESS)
            }
            for ch in self._channels
        ]
        self._next = itertools.cycle(range(len(self._channels)))

    def _channel(self, target: str, max_message_bytes: int):
        options = channel_options(max_message_bytes)
        if self.tls is None:
            return grpc.aio.insecure_channel(target, options=options)
        return grpc.aio.secure_channel(target, tlsmod.channel_credentials(self.tls),
                                       options=options + tlsmod.channel_options(self.tls))

    def _failed(self, err: grpc.RpcError):
        if self._tls_failures is not None:
            try:
                self._tls_failures.note(err.details() or "")
            except Exception:
                pass
        return from_grpc(err, ",".join(self.addresses))

    async def call(self, path: str, request: bytes, timeout: float) -> bytes:
        """One raw unary call; grpc errors become UpstreamError with TF Serving's code."""
        # time.monotonic is the event loop's clock; asyncio.get_running_loop() would cost a
        # getpid system call per call on Python 3.11 (its fork check).
        deadline = time.monotonic() + timeout
        index = next(self._next)
        try:
            return await self._methods[index][path](request, timeout=timeout)
        except grpc.RpcError as err:
            backoff = RETRY_BACKOFF_S * random.uniform(0.8, 1.2)
            if not never_sent(err) or deadline - time.monotonic() < 2 * backoff:
                raise self._failed(err) from None
        await asyncio.sleep(backoff)
        index = next(self._next)
        try:
            return await self._methods[index][path](request, timeout=deadline - time.monotonic())
        except grpc.RpcError as err:
            raise self._failed(err) from None

    async def predict(self, request: bytes, timeout: float) -> bytes:
        return await self.call(PREDICT, request, timeout)

    async def close(self) -> None:
        for ch in self._channels:
            await ch.close()


class UpstreamPool:
    """One Upstream per address set, per worker."""

    def __init__(self, max_message_bytes: int):
        self._max_message_bytes = max_message_bytes
        self._by_addresses: dict[tuple, Upstream] = {}

    def get(self, addresses: tuple[str, ...], tls: TlsSpec | None = None) -> Upstream:
        upstream = self._by_addresses.get((addresses, tls))
        if upstream is None:
            upstream = Upstream(addresses, max_message_bytes=self._max_message_bytes, tls=tls)
            self._by_addresses[(addresses, tls)] = upstream
        return upstream

    async def close(self) -> None:
        for upstream in self._by_addresses.values():
            await upstream.close()
        self._by_addresses.clear()
