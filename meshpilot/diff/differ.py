"""Compare two loaded sides: proxies paired, resources per type, changed ones field by field.

Cheap checks first, so a large snapshot with a few changes costs little more than reading it:
a resource whose dict equals the other side's is equal; then after the cheap normalisation
(`light`); only then is it parsed through its protobuf class and re-rendered (`canonical`), and
only resources that still differ are diffed field by field.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from meshpilot.diff.fields import Change, all_sources, diff_fields, sources_of
from meshpilot.diff.normalize import CanonicalError, canonical, light
from meshpilot.diff.snapshots import ENDPOINTS, MESSAGE, TYPES, ProxySnapshot, Resource, Side

ADDED = "added"
REMOVED = "removed"
CHANGED = "changed"
EQUAL = "equal"


@dataclasses.dataclass(frozen=True)
class ResourceDiff:
    type: str
    name: str
    status: str  # added | removed | changed
    sources: tuple[str, ...]
    changes: tuple[Change, ...] = ()


@dataclasses.dataclass(frozen=True)
class ProxyDiff:
    old_node: str | None  # None: the proxy is only in NEW
    new_node: str | None  # None: the proxy is only in OLD
    resources: tuple[ResourceDiff, ...]  # by type (TYPES order), then name
    not_compared: tuple[str, ...] = ()  # types one side does not have

    @property
    def node_id(self) -> str:
        return self.new_node or self.old_node or ""

    @property
    def status(self) -> str:
        if self.old_node is None:
            return ADDED
        if self.new_node is None:
            return REMOVED
        return CHANGED if self.resources else EQUAL

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.resources)


@dataclasses.dataclass(frozen=True)
class DiffResult:
    old: Side
    new: Side
    proxies: tuple[ProxyDiff, ...]
    warnings: tuple[str, ...]

    @property
    def different(self) -> bool:
        return any(p.status != EQUAL for p in self.proxies)

    def count(self, status: str) -> int:
        return sum(p.count(status) for p in self.proxies)


def compare(old: Side, new: Side) -> DiffResult:
    warnings = [*old.warnings, *new.warnings]
    diffs = [_compare_proxy(o, n, old, new, warnings) for o, n in pair_proxies(old, new)]
    return DiffResult(old, new, tuple(diffs), tuple(dict.fromkeys(warnings)))


def pair_proxies(old: Side, new: Side) -> list[tuple[ProxySnapshot | None, ProxySnapshot | None]]:
    """Proxies with the same node id; if exactly one is left on each side, those two."""
    only_old = [p for n, p in old.proxies.items() if n not in new.proxies]
    only_new = [p for n, p in new.proxies.items() if n not in old.proxies]
    pairs: list[tuple[ProxySnapshot | None, ProxySnapshot | None]] = [
        (p, new.proxies[n]) for n, p in old.proxies.items() if n in new.proxies
    ]
    if len(only_old) == 1 and len(only_new) == 1:
        pairs.append((only_old[0], only_new[0]))
    else:
        pairs += [(p, None) for p in only_old] + [(None, p) for p in only_new]
    return sorted(pairs, key=lambda pr: (pr[1] or pr[0]).node_id)  # type: ignore[union-attr]


def _compare_proxy(
    o: ProxySnapshot | None, n: ProxySnapshot | None, old: Side, new: Side, warnings: list[str]
) -> ProxyDiff:
    out: list[ResourceDiff] = []
    skipped: list[str] = []
    for t in TYPES:
        in_old = o.resources.get(t) if o is not None else {}
        in_new = n.resources.get(t) if n is not None else {}
        if in_old is None or in_new is None:
            side = old if in_old is None else new
            skipped.append(t)
            hint = " (Envoy lists endpoints in /config_dump only with ?include_eds)" if t == ENDPOINTS else ""
            node = (n or o).node_id  # type: ignore[union-attr]
            warnings.append(f"{t} of {node} not compared: {side.label} {side.source} has none{hint}")
            continue
        out += _compare_type(t, in_old, in_new, o, n, warnings)
    return ProxyDiff(o.node_id if o else None, n.node_id if n else None, tuple(out), tuple(skipped))


def _compare_type(
    t: str,
    old: Mapping[str, Resource],
    new: Mapping[str, Resource],
    o: ProxySnapshot | None,
    n: ProxySnapshot | None,
    warnings: list[str],
) -> list[ResourceDiff]:
    out = []
    for name in sorted(old.keys() | new.keys()):
        a, b = old.get(name), new.get(name)
        if a is None:
            assert b is not None and n is not None
            out.append(ResourceDiff(t, name, ADDED, tuple(sorted(_resource_sources(b, n)))))
        elif b is None:
            assert o is not None
            out.append(ResourceDiff(t, name, REMOVED, tuple(sorted(_resource_sources(a, o)))))
        elif a.raw != b.raw:
            assert o is not None and n is not None
            changed = _compare_resource(a, b, o, n, warnings)
            if changed is not None:
                out.append(changed)
    return out


def _compare_resource(
    a: Resource, b: Resource, o: ProxySnapshot, n: ProxySnapshot, warnings: list[str]
) -> ResourceDiff | None:
    la, lb = light(a.type, a.raw), light(b.type, b.raw)
    if la == lb:
        return None
    ca, cb = _canonical(a, la, "OLD", warnings), _canonical(b, lb, "NEW", warnings)
    if ca == cb:
        return None
    ctx: frozenset[str] = frozenset()
    if a.type == ENDPOINTS:  # a load assignment has no metadata: its cluster's sources
        ctx = _resource_sources(a, o) | _resource_sources(b, n)
    changes = diff_fields(ca, cb, ctx)
    if not changes:
        return None
    sources = sorted({s for c in changes for s in c.sources})
    return ResourceDiff(a.type, a.name, CHANGED, tuple(sources), tuple(changes))


def _canonical(r: Resource, fallback: Mapping[str, Any], label: str, warnings: list[str]) -> Mapping[str, Any]:
    try:
        return canonical(r.type, r.raw, r.rendered)
    except CanonicalError as exc:
        kind = MESSAGE[r.type].rsplit(".", 1)[-1]
        warnings.append(f"{label} {r.type} {r.name}: compared as written, it does not parse as a {kind}: {exc}")
        return fallback


def _resource_sources(r: Resource, proxy: ProxySnapshot) -> frozenset[str]:
    if r.type == ENDPOINTS:
        cluster = proxy.cluster_for_endpoints(r.name)
        return sources_of(cluster.raw) if cluster is not None else frozenset()
    return all_sources(r.raw)
