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
from meshpilot.observe.events import emit, emit_conflict
from meshpilot.xds.attribution import objects_for
from meshpilot.xds.cache import GroupUpdate, SnapshotCache
from meshpilot.xds.protocol import Acked, Action, Ignored, Nacked, Send, SotwStream
from meshpilot.xds.snapshot import CLUSTER, PUSH_ORDER, Snapshot, short_type

MAX_MESSAGE_BYTES = 64 * 1024 * 1024  # xDS responses can exceed gRPC's 4 MiB default
_conn_ids = itertools.count(1)

SYNCED, STALE, NOT_SENT, NACKED = "SYNCED", "STALE", "NOT SENT", "NACKED"


@dataclasses.dataclass
class Connection:
    """One ADS stream: protocol state plus what the debug endpoints and metrics need."""

    id: int
    proxy: Proxy
    peer: str
    stream: SotwStream
    connected_at: float
    wake: asyncio.Event
    last_ack: dict[str, float] = dataclasses.field(default_factory=dict)
    sent: dict[str, discovery_pb2.DiscoveryResponse] = dataclasses.field(default_factory=dict)
    sent_snapshot: dict[str, Snapshot] = dataclasses.field(default_factory=dict)
    acked_snapshot: dict[str, Snapshot] = dataclasses.field(default_factory=dict)
    sent_at: dict[str, float] = dataclasses.field(default_factory=dict)
    # type -> when the config change being pushed was observed (for convergence time)
    pending_change: dict[str, float] = dataclasses.field(default_factory=dict)

    def status(self, type_url: str, now: float) -> dict[str, Any]:
        """SYNCED / STALE / NOT SENT / NACKED for one type, as `meshpilot status` shows it."""
        st = self.stream.types.get(type_url)
        snap = self.stream.snapshot
        if st is None or not st.sent_ever:
            state = NOT_SENT
        elif st.nacked is not None:
            state = NACKED
        elif st.acked_version == st.sent_version and (
            snap is None or st.sent_version == snap.version(type_url, st.names)
        ):
            state = SYNCED
        else:
            state = STALE
        last_ack = self.last_ack.get(type_url)
        return {
            "status": state,
            "sent": st.sent_version if st else "",
            "acked": st.acked_version if st else "",
            "latest": snap.version(type_url, st.names) if snap is not None and st is not None else "",
            "error": st.nacked.message if st is not None and st.nacked is not None else None,
            "since_ack_seconds": round(now - last_ack, 1) if last_ack else None,
            "unacked_seconds": round(now - self.sent_at[type_url], 1)
            if st is not None and st.sent_ever and st.acked_version != st.sent_version and type_url in self.sent_at
            else 0.0,
        }


class XdsServer(ads_pb2_grpc.AggregatedDiscoveryServiceServicer):  # type: ignore[misc]
    def __init__(self, cache: SnapshotCache) -> None:
        self.cache = cache
        self.connections: dict[int, Connection] = {}
        self.change_observed_at = time.time()
        self.translation_conflicts: set[Any] = set()

    # --------------------------------------------------------------- config updates
    def publish(self, updates: list[GroupUpdate], observed_at: float | None = None) -> None:
        """Called after the cache took a new store: log what happened, wake every stream."""
        self.change_observed_at = observed_at or time.time()
        for u in updates:
            for d in u.new_diagnostics:
                if d.conflict:
                    emit_conflict(d)
                else:
                    emit(
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
                emit("snapshot.inconsistent", node_group=u.proxy.short, missing=list(u.inconsistent))
            elif u.changed and u.published is not None:
                emit(
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
            loc = first.node.locality
            locality = (
                "/".join([loc.region, loc.zone, loc.sub_zone]).rstrip("/") if first.node.HasField("locality") else ""
            )
            proxy = parse_proxy(first.node.id, metadata, locality)
        except ProxyIdError as exc:
            emit("xds.stream_refused", node_id=first.node.id, error=str(exc))
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
            raise AssertionError("unreachable") from None
        conn = Connection(next(_conn_ids), proxy, context.peer(), SotwStream(), time.time(), asyncio.Event())
        self.connections[conn.id] = conn
        metrics.PROXIES.labels(proxy.type).inc()
        update = await asyncio.to_thread(self.cache.register, proxy)  # may translate: off the loop
        if update.new_diagnostics or update.inconsistent:
            self.publish([update], self.change_observed_at)
        emit("xds.stream_opened", node_id=proxy.node_id, conn=conn.id, peer=conn.peer)
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
                changed_at: float | None = None
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
                        changed_at = self.change_observed_at
                else:
                    get_wake.cancel()
                for action in actions:
                    await self._perform(conn, context, action, changed_at)
        except asyncio.CancelledError:
            reason = "cancelled (server shutdown or client gone)"
            raise
        except Exception as exc:
            reason = f"error: {exc!r}"
            metrics.PUSHES.labels("unknown", "failed").inc()
            emit("xds.send_failed", node_id=proxy.node_id, conn=conn.id, error=repr(exc))
        finally:
            reader.cancel()
            self.connections.pop(conn.id, None)
            try:
                await asyncio.to_thread(self.cache.unregister, proxy)  # waits for a running translation
            except (RuntimeError, asyncio.CancelledError):  # shutting down: no executor, or cancelled
                self.cache.unregister(proxy)
            metrics.PROXIES.labels(proxy.type).dec()
            for t in PUSH_ORDER:
                if not any(c.proxy.node_id == proxy.node_id for c in self.connections.values()):
                    metrics.forget_proxy(proxy.node_id, short_type(t))
            emit("xds.stream_closed", node_id=proxy.node_id, conn=conn.id, reason=reason)

    async def _perform(self, conn: Connection, context: Any, action: Action, changed_at: float | None) -> None:
        node = conn.proxy.node_id
        if isinstance(action, Send):
            start = time.perf_counter()
            size = action.response.ByteSize()
            typ = short_type(action.type_url)
            try:
                await context.write(action.response)
            except Exception:
                metrics.PUSHES.labels(typ, "failed").inc()
                raise
            now = time.time()
            conn.sent[action.type_url] = action.response
            if conn.stream.snapshot is not None:
                conn.sent_snapshot[action.type_url] = conn.stream.snapshot
            conn.sent_at[action.type_url] = now
            if changed_at is not None:
                conn.pending_change.setdefault(action.type_url, changed_at)
            metrics.PUSHES.labels(typ, "sent").inc()
            metrics.PUSH_BYTES.labels(typ).inc(size)
            metrics.CONFIG_SIZE.labels(typ).observe(size)
            metrics.PUSH_DURATION.labels(typ).observe(time.perf_counter() - start)
            emit(
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
            now = time.time()
            conn.last_ack[action.type_url] = now
            if action.type_url in conn.sent_snapshot:
                conn.acked_snapshot[action.type_url] = conn.sent_snapshot[action.type_url]
            metrics.PROXY_NACKED.labels(node, short_type(action.type_url)).set(0)
            observed = conn.pending_change.pop(action.type_url, None)
            if observed is not None:
                metrics.CONVERGENCE.labels(short_type(action.type_url)).observe(max(0.0, now - observed))
            emit("xds.ack", node_id=node, type_url=action.type_url, version=action.version, nonce=action.nonce)
        elif isinstance(action, Nacked):
            typ = short_type(action.type_url)
            metrics.NACKS.labels(typ).inc()
            metrics.PROXY_NACKED.labels(node, typ).set(1)
            conn.pending_change.pop(action.type_url, None)
            snap = conn.sent_snapshot.get(action.type_url)
            objects: list[str] = []
            if snap is not None:
                st = conn.stream.types[action.type_url]
                accepted = conn.acked_snapshot.get(action.type_url)
                objects = objects_for(
                    action.type_url,
                    snap.select(action.type_url, st.sent_names),
                    snap.get(CLUSTER),
                    action.message,
                    accepted.select(action.type_url, st.sent_names) if accepted is not None else (),
                )
            emit(
                "xds.nack",
                node_id=node,
                type_url=action.type_url,
                version=action.rejected_version,
                current_version=action.current_version,
                nonce=action.nonce,
                error=action.message,
                objects=objects,
            )
        elif isinstance(action, Ignored):
            emit("xds.stale_request", node_id=node, type_url=action.type_url, nonce=action.nonce)

    async def DeltaAggregatedResources(self, request_iterator: Any, context: Any) -> None:
        await context.abort(
            grpc.StatusCode.UNIMPLEMENTED,
            "incremental (delta) xDS is not supported yet; use api_type GRPC (state of the world)",
        )

    def status_rows(self) -> list[dict[str, Any]]:
        """One row per connected proxy with per-type sync status (for /debug/syncz)."""
        now = time.time()
        rows = []
        for c in sorted(self.connections.values(), key=lambda c: (c.proxy.node_id, c.id)):
            rows.append(
                {
                    "node_id": c.proxy.node_id,
                    "proxy_type": c.proxy.type,
                    "connection": c.id,
                    "peer": c.peer,
                    "connected_seconds": round(now - c.connected_at, 1),
                    "types": {short_type(t): c.status(t, now) for t in PUSH_ORDER},
                }
            )
        return rows


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
