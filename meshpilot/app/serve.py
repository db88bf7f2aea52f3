"""`meshpilot serve`: load config, serve ADS, watch for changes, expose admin HTTP."""

from __future__ import annotations

import asyncio
import importlib
import signal
import time
from collections import Counter

from meshpilot.app.admin import AdminApp, start_admin
from meshpilot.model.loader import ConfigLoader, LoadResult
from meshpilot.observe import metrics
from meshpilot.observe.log import get_logger
from meshpilot.sources.files import DirectorySource
from meshpilot.xds.cache import SnapshotCache, TranslationHook
from meshpilot.xds.server import XdsServer, start_grpc


def split_address(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ValueError(f"expected HOST:PORT, got {address!r}")
    return host.strip("[]"), int(port)


def load_hook(spec: str) -> TranslationHook:
    module, _, func = spec.partition(":")
    hook: TranslationHook = getattr(importlib.import_module(module), func)
    return hook


class ControlPlane:
    def __init__(self, source: DirectorySource, hook: TranslationHook | None = None) -> None:
        self.source = source
        self.loader = ConfigLoader()
        self.cache = SnapshotCache(hook)
        self.xds = XdsServer(self.cache)
        self.log = get_logger()
        self.loaded = False

    def reload(self) -> LoadResult:
        start = time.perf_counter()
        result = self.loader.load(self.source.read())
        self._report(result)
        changed = result.store.revision != self.cache.revision
        if changed or not self.cache.ready:
            with metrics.TRANSLATE_SECONDS.time():
                updates = self.cache.set_store(result.store)
            self.xds.publish(updates)
        self.loaded = True
        self.log.info(
            "config.loaded",
            revision=result.store.revision,
            objects=len(result.store),
            rejected=len(result.rejected),
            changed=changed,
            duration_ms=round((time.perf_counter() - start) * 1000, 2),
        )
        return result

    def _report(self, result: LoadResult) -> None:
        for d in result.rejected:
            kind = d.obj.split(" ", 1)[0] if d.obj else "unknown"
            metrics.CONFIG_REJECTED.labels(kind).inc()
            self.log.error(
                "config.rejected",
                file=d.where.split(" doc ")[0],
                doc=int(d.where.split(" doc ")[1]) if " doc " in d.where else None,
                object=d.obj or None,
                path=d.path,
                reason=d.message,
                kept_last_good=any(str(k) == d.obj for k in result.kept),
                message=str(d),
            )
        for d in result.warnings:
            self.log.warning("config.ignored", where=d.where, message=d.message)
        counts = Counter(k.kind for k in result.store.objects)
        for kind in (
            "Gateway",
            "VirtualService",
            "DestinationRule",
            "ServiceEntry",
            "WorkloadEntry",
            "Service",
        ):
            metrics.CONFIG_OBJECTS.labels(kind).set(counts.get(kind, 0))
        metrics.CONFIG_LOADS.labels("rejected" if result.rejected else "ok").inc()
        if not result.rejected:
            metrics.CONFIG_LAST_LOAD.set(time.time())

    async def run(self, xds_address: str, admin_address: str) -> None:
        admin_host, admin_port = split_address(admin_address)
        self.reload()
        grpc_server = await start_grpc(self.xds, xds_address)
        admin = await start_admin(AdminApp(self.xds, lambda: self.loaded), admin_host, admin_port)
        self.log.info(
            "serve.started",
            xds_address=xds_address,
            admin_address=admin_address,
            config=str(self.source.root),
        )

        async def on_change() -> None:
            try:
                self.reload()
            except Exception as exc:
                self.log.error("config.load_failed", error=repr(exc))

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        watcher = asyncio.create_task(self.source.watch(on_change))
        try:
            await stop.wait()
        finally:
            self.log.info("serve.stopping")
            watcher.cancel()
            admin.close()
            await grpc_server.stop(grace=1.0)
