"""`meshpilot serve`: load config, serve ADS, watch for changes, expose admin HTTP."""

from __future__ import annotations

import asyncio
import importlib
import signal
import time
from collections import Counter
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from meshpilot.app.admin import AdminApp, start_admin
from meshpilot.model.loader import ConfigLoader, LoadResult
from meshpilot.model.objects import KINDS
from meshpilot.observe import metrics
from meshpilot.observe.events import emit, emit_conflict
from meshpilot.sources.files import DirectorySource
from meshpilot.xds.cache import GroupUpdate, SnapshotCache, TranslationHook
from meshpilot.xds.server import XdsServer, start_grpc
from meshpilot.xds.snapshot import PUSH_ORDER, short_type


def split_address(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ValueError(f"expected HOST:PORT, got {address!r}")
    return host.strip("[]"), int(port)


def load_hook(spec: str) -> TranslationHook:
    module, _, func = spec.partition(":")
    hook: TranslationHook = getattr(importlib.import_module(module), func)
    return hook


class UnackedCollector(Collector):
    """`meshpilot_xds_proxy_unacked_seconds{node_id,type}`: how long the proxy has not ACKed
    the latest response of a type (0 when in sync). Alerts fire on proxies stuck stale."""

    def __init__(self, xds: XdsServer) -> None:
        self.xds = xds

    def collect(self) -> Iterator[GaugeMetricFamily]:
        g = GaugeMetricFamily(
            "meshpilot_xds_proxy_unacked_seconds",
            "Seconds since the latest unacknowledged response to a proxy, by type (0 = in sync).",
            labels=["node_id", "type"],
        )
        now = time.time()
        for conn in self.xds.connections.values():
            for t in PUSH_ORDER:
                if t in conn.stream.types:
                    g.add_metric([conn.proxy.node_id, short_type(t)], conn.status(t, now)["unacked_seconds"])
        yield g


class ControlPlane:
    def __init__(self, source: DirectorySource, hook: TranslationHook | None = None) -> None:
        self.source = source
        self.loader = ConfigLoader()
        self.cache = SnapshotCache(hook)
        self.xds = XdsServer(self.cache)
        self.loaded = False
        metrics.REGISTRY.register(UnackedCollector(self.xds))

    def reload(self, observed_at: float | None = None) -> LoadResult:
        """Load, translate and publish, all on the calling thread (start-up)."""
        result, updates, changed, start = self.load_and_translate()
        return self.publish(result, updates, changed, start, observed_at)

    def load_and_translate(self) -> tuple[LoadResult, list[GroupUpdate] | None, bool, float]:
        """The slow part, safe to run in a worker thread: read, decode, validate, translate."""
        start = time.perf_counter()
        result = self.loader.load(self.source.read())
        self._report(result)
        changed = result.store.revision != self.cache.revision
        updates = None
        if not self.cache.ready and result.rejected and not len(result.store):
            # Nothing valid yet and errors: serving this empty config would wipe every proxy that
            # connects (e.g. meshpilot restarting while a file is broken). Stay not ready instead.
            emit(
                "serve.waiting",
                reason="the config has errors and nothing valid yet; proxies are refused until it loads",
                rejected=len(result.rejected),
            )
            return result, None, False, start
        if changed or not self.cache.ready:
            with metrics.TRANSLATE_SECONDS.time():
                updates = self.cache.set_store(result.store)
        return result, updates, changed, start

    def publish(
        self,
        result: LoadResult,
        updates: list[GroupUpdate] | None,
        changed: bool,
        start: float,
        observed_at: float | None = None,
    ) -> LoadResult:
        """The event-loop part: log and wake the streams."""
        if updates is not None:
            self.xds.publish(updates, observed_at or time.time())
        self.loaded = self.cache.ready
        emit(
            "config.loaded",
            revision=result.store.revision,
            objects=len(result.store),
            rejected=len(result.rejected),
            conflicts=len(result.conflicts),
            changed=changed,
            duration_ms=round((time.perf_counter() - start) * 1000, 2),
        )
        return result

    def _report(self, result: LoadResult) -> None:
        rejected_by_kind: Counter[str] = Counter()
        for d in result.rejected:
            kind = d.obj.split(" ", 1)[0] if d.obj else "unknown"
            rejected_by_kind[kind] += 1
            metrics.CONFIG_REJECTED.labels(kind).inc()
            file, _, doc = d.where.partition(" doc ")
            emit(
                "config.rejected",
                file=file,
                doc=int(doc) if doc else None,
                object=d.obj or None,
                path=d.path,
                reason=d.message,
                kept_last_good=any(str(k) == d.obj for k in result.kept),
                message=str(d),
            )
        for d in result.conflicts:
            emit_conflict(d)
        for d in result.warnings:
            emit("config.ignored", where=d.where, message=d.message)
        counts = Counter(k.kind for k in result.store.objects)
        for kind in KINDS:
            metrics.CONFIG_OBJECTS.labels(kind).set(counts.get(kind, 0))
            metrics.CONFIG_REJECTED_NOW.labels(kind).set(rejected_by_kind.get(kind, 0))
        metrics.CONFIG_REJECTED_NOW.labels("unknown").set(rejected_by_kind.get("unknown", 0))
        metrics.CONFIG_CONFLICTS.set(len(result.conflicts))
        metrics.CONFIG_LOADS.labels("rejected" if result.rejected else "ok").inc()
        if not result.rejected:
            metrics.CONFIG_LAST_LOAD.set(time.time())

    async def run(self, xds_address: str, admin_address: str) -> None:
        admin_host, admin_port = split_address(admin_address)
        self.reload()
        grpc_server = await start_grpc(self.xds, xds_address)
        admin = await start_admin(AdminApp(self.xds, lambda: self.loaded), admin_host, admin_port)
        emit(
            "serve.started",
            xds_address=xds_address,
            admin_address=admin_address,
            config=str(self.source.root),
        )

        async def on_change(first_seen: float) -> None:
            metrics.DEBOUNCE.observe(time.time() - first_seen)
            try:
                # Translation of a large mesh takes seconds: off the loop, so streams keep being
                # served (ACKs, new proxies of known groups, debug endpoints) meanwhile.
                result, updates, changed, start = await asyncio.to_thread(self.load_and_translate)
                self.publish(result, updates, changed, start, observed_at=first_seen)
            except Exception as exc:
                metrics.CONFIG_LOADS.labels("error").inc()
                emit("config.load_failed", error=repr(exc))

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        watcher = asyncio.create_task(self.source.watch(on_change))
        try:
            await stop.wait()
        finally:
            emit("serve.stopping")
            watcher.cancel()
            admin.close()
            await grpc_server.stop(grace=1.0)
