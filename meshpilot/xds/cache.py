"""SnapshotCache: one translation and snapshot per group of identical proxies.

Holds the current MeshContext; `set_store` retranslates every connected group, refuses to
publish inconsistent snapshots (the previous one keeps serving) and reports what changed.
Synchronous and free of I/O: the gRPC shell calls it and logs what it returns.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable

from meshpilot.model.diagnostics import Diagnostic
from meshpilot.model.proxy import Proxy
from meshpilot.model.store import ConfigStore
from meshpilot.translator import MeshContext, Translation, build_context, translate
from meshpilot.translator.clusters import ClusterMemo
from meshpilot.xds.snapshot import (
    CLUSTER,
    ENDPOINT,
    LISTENER,
    ROUTE,
    SECRET,
    PackCache,
    Snapshot,
    build_snapshot,
    inconsistencies,
)

GroupKey = tuple[str, str, tuple[tuple[str, str], ...], str, str]
# A test hook may rewrite a translation before it is published (used to force NACKs).
TranslationHook = Callable[[Proxy, Translation], Translation]


@dataclasses.dataclass(frozen=True)
class Published:
    snapshot: Snapshot
    translation: Translation
    revision: str  # store revision it was built from


@dataclasses.dataclass(frozen=True)
class GroupUpdate:
    proxy: Proxy  # a representative proxy of the group
    published: Published | None  # None when the group's snapshot was refused
    changed: bool
    new_diagnostics: tuple[Diagnostic, ...]
    inconsistent: tuple[str, ...] = ()


def snapshot_of(t: Translation, packs: PackCache | None = None) -> Snapshot:
    return build_snapshot(
        {
            CLUSTER: [(c.name, c) for c in t.clusters],
            ENDPOINT: [(e.cluster_name, e) for e in t.endpoints],
            LISTENER: [(listener.name, listener) for listener in t.listeners],
            ROUTE: [(r.name, r) for r in t.routes],
            SECRET: [(s.name, s) for s in t.secrets],
        },
        packs,
    )


class SnapshotCache:
    """Thread-safe for the control plane's use: translation runs in a worker thread while the
    event loop serves streams. `get` is lock-free (a dict read of an immutable Published);
    everything that translates or mutates holds the lock."""

    def __init__(self, hook: TranslationHook | None = None) -> None:
        self._lock = threading.Lock()
        self._ctx: MeshContext | None = None
        self._groups: dict[GroupKey, tuple[Proxy, int]] = {}  # representative, refcount
        self._published: dict[GroupKey, Published] = {}
        self._hook = hook
        self._memo = ClusterMemo()
        self._packs = PackCache()

    @property
    def ready(self) -> bool:
        return self._ctx is not None

    @property
    def revision(self) -> str:
        return self._ctx.store.revision if self._ctx else ""

    def register(self, proxy: Proxy) -> GroupUpdate:
        """A proxy connected: make sure its group has a snapshot; returns it."""
        with self._lock:
            return self._register(proxy)

    def _register(self, proxy: Proxy) -> GroupUpdate:
        key = proxy.group_key
        rep, count = self._groups.get(key, (proxy, 0))
        self._groups[key] = (rep, count + 1)
        if key in self._published:
            return GroupUpdate(rep, self._published[key], False, ())
        return self._retranslate(key, rep)

    def unregister(self, proxy: Proxy) -> None:
        with self._lock:
            self._unregister(proxy)

    def _unregister(self, proxy: Proxy) -> None:
        key = proxy.group_key
        rep, count = self._groups.get(key, (proxy, 1))
        if count <= 1:
            self._groups.pop(key, None)
            self._published.pop(key, None)
        else:
            self._groups[key] = (rep, count - 1)

    def get(self, proxy: Proxy) -> Published | None:
        return self._published.get(proxy.group_key)

    def set_store(self, store: ConfigStore) -> list[GroupUpdate]:
        """New config: retranslate every connected group; returns one update per group."""
        with self._lock:
            self._ctx = build_context(store)
            updates = [self._retranslate(key, rep) for key, (rep, _) in sorted(self._groups.items())]
            self._packs.finish()
            return updates

    def translate_for(self, proxy: Proxy) -> Translation | None:
        if self._ctx is None:
            return None
        t = translate(self._ctx, proxy, self._memo)
        return self._hook(proxy, t) if self._hook else t

    def _retranslate(self, key: GroupKey, rep: Proxy) -> GroupUpdate:
        t = self.translate_for(rep)
        if t is None:
            return GroupUpdate(rep, None, False, ())
        old = self._published.get(key)
        old_diags = set(old.translation.diagnostics) if old else set()
        new_diags = tuple(d for d in t.diagnostics if d not in old_diags)
        snap = snapshot_of(t, self._packs)
        missing = inconsistencies(snap)
        if missing:
            return GroupUpdate(rep, old, False, new_diags, tuple(missing))
        assert self._ctx is not None
        pub = Published(snap, t, self._ctx.store.revision)
        changed = old is None or dict(old.snapshot.versions) != dict(snap.versions)
        self._published[key] = pub
        return GroupUpdate(rep, pub, changed, new_diags)
