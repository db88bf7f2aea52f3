"""The ADS gRPC server (grpc.aio): the I/O shell around the sans-IO protocol core."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc
from envoy.service.discovery.v3 import ads_pb2_grpc, discovery_pb2
from google.protobuf import json_format

from meshpilot.model.proxy import Proxy, ProxyIdError, parse_proxy
from meshpilot.observe import metrics
from meshpilot.observe.log import get_logger
from meshpilot.xds.cache import GroupUpdate, SnapshotCache
from meshpilot.xds.protocol import Acked, Action, Ignored, Nacked, Send, SotwStream
from meshpilot.xds.snapshot import short_type

MAX_MESSAGE_BYTES = 64 * 1024 * 1024  # xDS responses can exceed gRPC's 4 MiB default
_conn_ids = itertools.count(1)


@dataclasses.dataclass
class Connection:
    """One ADS stream, for the debug endpoints."""

    id: int
    proxy: Proxy
    peer: str
    stream: SotwStream
    connected_at: float
    wake: asyncio.Event
    last_ack: dict[str, float] = dataclasses.field(default_factory=dict)
    sent: dict[str, discovery_pb2.DiscoveryResponse] = dataclasses.field(default_factory=dict)


class XdsServer(ads_pb2_grpc.AggregatedDiscoveryServiceServicer):  # type: ignore[misc]
    def __init__(self, cache: SnapshotCache) -> None:
        self.cache = cache
        self.connections: dict[int, Connection] = {}
        self.log = get_logger()

    # --------------------------------------------------------------- config updates
    def publish(self, updates: list[GroupUpdate]) -> None:
        """Called after the cache took a new store: log what happened, wake every stream."""
        for u in updates:
            for d in u.new_diagnostics:
                self.log.warning(
                    "translate.diagnostic",
                    node_group=u.proxy.short,
                    severity=str(d.severity),
                    object=d.obj,
                    path=d.path,
                    where=d.where,
                    message=d.message,
                )
            if u.inconsistent:
                metrics.INCONSISTENT.inc()
                self.log.error(
                    "snapshot.inconsistent",
                    node_group=u.proxy.short,
                    missing=list(u.inconsistent),
                    message="snapshot not published; proxies keep the previous one",
                )
            elif u.changed and u.published is not None:
                self.log.info(
                    "snapshot.published",
                    node_group=u.proxy.short,
                    revision=u.published.revision,
                    versions={short_type(k): v for k, v in u.published.snapshot.versions.items()},
                )
        for conn in self.connections.values():
            conn.wake.set()

    # --------------------------------------------------------------- gRPC handlers
    async def StreamAggregatedResources(
        self, request_iterator: AsyncIterator[discovery_pb2.DiscoveryRequest], context: Any
    ) -> None:
        if not self.cache.ready:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "meshpilot has not loaded its first config yet")
        try:
            first = await anext(aiter(request_iterator))
        except StopAsyncIteration:
            return
        metadata = json_format.MessageToDict(first.node.metadata) if first.node.HasField("metadata") else {}
        try:
            proxy = parse_proxy(first.node.id, metadata)
        except ProxyIdError as exc:
            self.log.error("xds.stream_refused", node_id=first.node.id, error=str(exc))
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
            raise AssertionError("unreachable") from None
        conn = Connection(next(_conn_ids), proxy, context.peer(), SotwStream(), time.time(), asyncio.Event())
        self.connections[conn.id] = conn
        metrics.PROXIES.labels(proxy.type).inc()
        update = self.cache.register(proxy)
        self.publish([update]) if update.new_diagnostics or update.inconsistent else None
        self.log.info("xds.stream_opened", node_id=proxy.node_id, conn=conn.id, peer=conn.peer)
        queue: asyncio.Queue[discovery_pb2.DiscoveryRequest | None] = asyncio.Queue()
        await queue.put(first)

        async def read() -> None:
            try:
                async for req in request_iterator:
                    await queue.put(req)
            finally:
                await queue.put(None)

        reader = asyncio.create_task(read())
        reason = "client closed the stream"
        try:
            published = self.cache.get(proxy)
            if published is not None:
                conn.stream.snapshot = published.snapshot
            while True:
                get_req = asyncio.ensure_future(queue.get())
                get_wake = asyncio.ensure_future(conn.wake.wait())
                done, _ = await asyncio.wait({get_req, get_wake}, return_when=asyncio.FIRST_COMPLETED)
                actions: list[Action] = []
                if get_req in done:
                    req = get_req.result()
                    if req is None:
                        break
                    actions.extend(conn.stream.handle_request(req))
                else:
                    get_req.cancel()
                if get_wake in done:
                    conn.wake.clear()
                    published = self.cache.get(proxy)
                    if published is not None:
                        actions.extend(conn.stream.set_snapshot(published.snapshot))
                else:
                    get_wake.cancel()
                for action in actions:
                    await self._perform(conn, context, action)
        except asyncio.CancelledError:
            reason = "cancelled (server shutdown or client gone)"
            raise
        except Exception as exc:
            reason = f"error: {exc!r}"
            self.log.error("xds.send_failed", node_id=proxy.node_id, conn=conn.id, error=repr(exc))
        finally:
            reader.cancel()
            self.connections.pop(conn.id, None)
            self.cache.unregister(proxy)
            metrics.PROXIES.labels(proxy.type).dec()
            self.log.info("xds.stream_closed", node_id=proxy.node_id, conn=conn.id, reason=reason)

    async def _perform(self, conn: Connection, context: Any, action: Action) -> None:
        node = conn.proxy.node_id
        if isinstance(action, Send):
            start = time.perf_counter()
            size = action.response.ByteSize()
            await context.write(action.response)
            conn.sent[action.type_url] = action.response
            typ = short_type(action.type_url)
            metrics.PUSHES.labels(typ, "sent").inc()
            metrics.PUSH_BYTES.labels(typ).inc(size)
            self.log.debug(
                "xds.push",
                node_id=node,
                type_url=action.type_url,
                version=action.version,
                nonce=action.nonce,
                resources=len(action.response.resources),
                bytes=size,
                duration_ms=round((time.perf_counter() - start) * 1000, 3),
            )
        elif isinstance(action, Acked):
            conn.last_ack[action.type_url] = time.time()
            self.log.debug(
                "xds.ack",
                node_id=node,
                type_url=action.type_url,
                version=action.version,
                nonce=action.nonce,
            )
        elif isinstance(action, Nacked):
            metrics.NACKS.labels(short_type(action.type_url)).inc()
            self.log.error(
                "xds.nack",
                node_id=node,
                type_url=action.type_url,
                version=action.rejected_version,
                current_version=action.current_version,
                nonce=action.nonce,
                error=action.message,
            )
        elif isinstance(action, Ignored):
            self.log.debug("xds.stale_request", node_id=node, type_url=action.type_url, nonce=action.nonce)

    async def DeltaAggregatedResources(self, request_iterator: Any, context: Any) -> None:
        await context.abort(
            grpc.StatusCode.UNIMPLEMENTED,
            "incremental (delta) xDS is not supported yet; use api_type GRPC (state of the world)",
        )


async def start_grpc(server: XdsServer, address: str) -> grpc.aio.Server:
    grpc_server = grpc.aio.server(
        options=[
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.keepalive_time_ms", 30_000),
            ("grpc.http2.max_pings_without_data", 0),
            ("grpc.keepalive_permit_without_calls", 1),
        ]
    )
    ads_pb2_grpc.add_AggregatedDiscoveryServiceServicer_to_server(server, grpc_server)
    bound = grpc_server.add_insecure_port(address)
    if bound == 0:
        raise OSError(f"cannot listen on {address}")
    await grpc_server.start()
    return grpc_server
