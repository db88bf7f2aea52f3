"""Field-level diff of two canonical resources (plain dicts).

Paths read like the resource: `virtual_hosts[0].routes[2].route.weighted_clusters.clusters[1].weight`
(indices are positions in the NEW resource; in the OLD one for removed elements). Map keys that
are not identifiers are quoted: `typed_extension_protocol_options["envoy.extensions...."]`.

List elements are matched by identity where they have one, so an insertion or a reordering is
one change, not a cascade: routes, virtual hosts, weighted clusters, filter chains, filters and
HTTP filters by `name`; localities by locality and priority; endpoints by address. Where order
matters to Envoy (routes, filters, HTTP filters: the first match wins or they run in order), a
changed order is reported as `moved`. Other lists are aligned on content (difflib), and
elements left over in place are compared field by field.

Every change names the meshpilot objects it comes from: the `metadata.filter_metadata.meshpilot.
sources` of the innermost element around it that has them (a route, a virtual host, the
resource itself), or the sources passed in (a load assignment's cluster).
"""

from __future__ import annotations

import bisect
import dataclasses
import difflib
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

ADDED = "added"
REMOVED = "removed"
CHANGED = "changed"
MOVED = "moved"

Sources = frozenset[str]
_NONE: Sources = frozenset()
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclasses.dataclass(frozen=True)
class Change:
    op: str  # added | removed | changed | moved
    path: str
    old: Any = None  # for moved: the old index
    new: Any = None  # for moved: the new index
    sources: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"op": self.op, "path": self.path}
        if self.op != ADDED:
            out["old"] = self.old
        if self.op != REMOVED:
            out["new"] = self.new
        out["sources"] = list(self.sources)
        return out


def sources_of(node: Any) -> Sources:
    """The `metadata.filter_metadata.meshpilot.sources` of one element (not of its children)."""
    if not isinstance(node, Mapping):
        return _NONE
    md = node.get("metadata")
    fm = md.get("filter_metadata") if isinstance(md, Mapping) else None
    mp = fm.get("meshpilot") if isinstance(fm, Mapping) else None
    found = mp.get("sources") if isinstance(mp, Mapping) else None
    return frozenset(str(s) for s in found) if isinstance(found, list) else _NONE


def all_sources(node: Any) -> Sources:
    """The sources of an element and everything in it."""
    if isinstance(node, Mapping):
        out = set(sources_of(node))
        for v in node.values():
            if isinstance(v, Mapping | list):
                out |= all_sources(v)
        return frozenset(out)
    if isinstance(node, list):
        return frozenset().union(*(all_sources(v) for v in node)) if node else _NONE
    return _NONE


def diff_fields(old: Any, new: Any, sources: Sources = _NONE) -> list[Change]:
    out: list[Change] = []
    _diff(old, new, "", sources, "", out)
    return out


# --- list identity -----------------------------------------------------------------------------

KeyFn = Callable[[Mapping[str, Any]], Any]


def _name(x: Mapping[str, Any]) -> Any:
    return x.get("name") or None


def _locality(x: Mapping[str, Any]) -> Any:
    return json.dumps([x.get("locality") or {}, x.get("priority") or 0], sort_keys=True)


def _address(x: Mapping[str, Any]) -> Any:
    ep = x.get("endpoint")
    addr = ep.get("address") if isinstance(ep, Mapping) else None
    return json.dumps(addr, sort_keys=True) if addr else None


# list field -> (identity, does Envoy care about the order?)
_IDENTITY: dict[str, tuple[KeyFn, bool]] = {
    "virtual_hosts": (_name, False),
    "routes": (_name, True),
    "clusters": (_name, False),  # weighted_clusters.clusters
    "filter_chains": (_name, False),
    "filters": (_name, True),
    "http_filters": (_name, True),
    "endpoints": (_locality, False),  # ClusterLoadAssignment localities
    "lb_endpoints": (_address, False),
}
_DEFAULT_IDENTITY: tuple[KeyFn, bool] = (_name, True)


def _keys(items: list[Any], key: KeyFn) -> list[Any] | None:
    """Each element's identity, or None when some element has none or two share one."""
    if not all(isinstance(x, Mapping) for x in items):
        return None
    keys = [key(x) for x in items]
    if None in keys or len(set(keys)) != len(keys):
        return None
    return keys


def _fingerprint(x: Any) -> Any:
    return json.dumps(x, sort_keys=True) if isinstance(x, Mapping | list) else (type(x).__name__, x)


def _increasing(seq: list[int]) -> set[int]:
    """The values of one longest increasing subsequence of `seq` (elements that did not move)."""
    tail_at: list[int] = []  # tail_at[k]: position in seq of the smallest tail of a run of length k+1
    tail_value: list[int] = []
    prev = [-1] * len(seq)
    for i, v in enumerate(seq):
        k = bisect.bisect_left(tail_value, v)
        if k > 0:
            prev[i] = tail_at[k - 1]
        if k == len(tail_value):
            tail_at.append(i)
            tail_value.append(v)
        else:
            tail_at[k] = i
            tail_value[k] = v
    out: set[int] = set()
    i = tail_at[-1] if tail_at else -1
    while i >= 0:
        out.add(seq[i])
        i = prev[i]
    return out


# --- the walk ----------------------------------------------------------------------------------


def _field(path: str, key: str) -> str:
    if _IDENT.match(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key)}]"


def _subtree_sources(value: Any, ctx: Sources) -> tuple[str, ...]:
    return tuple(sorted(sources_of(value) or all_sources(value) or ctx))


def _diff(old: Any, new: Any, path: str, ctx: Sources, field: str, out: list[Change]) -> None:
    if old == new:
        return
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        if "@type" in old and "@type" in new and old["@type"] != new["@type"]:
            out.append(Change(CHANGED, path, old, new, _subtree_sources(new, ctx)))
            return
        ctx = (sources_of(old) | sources_of(new)) or ctx
        for k, v in old.items():
            p = _field(path, k)
            if k in new:
                _diff(v, new[k], p, ctx, k, out)
            else:
                out.append(Change(REMOVED, p, old=v, sources=_subtree_sources(v, ctx)))
        for k, v in new.items():
            if k not in old:
                p = _field(path, k)
                out.append(Change(ADDED, p, new=v, sources=_subtree_sources(v, ctx)))
        return
    if isinstance(old, list) and isinstance(new, list):
        _diff_list(old, new, path, ctx, field, out)
        return
    out.append(Change(CHANGED, path, old, new, tuple(sorted(ctx))))


def _diff_list(old: list[Any], new: list[Any], path: str, ctx: Sources, field: str, out: list[Change]) -> None:
    key, ordered = _IDENTITY.get(field, _DEFAULT_IDENTITY)
    okeys, nkeys = _keys(old, key), _keys(new, key)
    if okeys is None or nkeys is None:
        _align(old, new, path, ctx, field, out)
        return
    at_old = {k: i for i, k in enumerate(okeys)}
    in_new = set(nkeys)
    kept = _increasing([at_old[k] for k in nkeys if k in at_old]) if ordered else set(at_old.values())
    for j, k in enumerate(nkeys):
        p = f"{path}[{j}]"
        if k not in at_old:
            out.append(Change(ADDED, p, new=new[j], sources=_subtree_sources(new[j], ctx)))
            continue
        i = at_old[k]
        if i not in kept:
            srcs = sources_of(new[j]) or sources_of(old[i]) or ctx
            out.append(Change(MOVED, p, old=i, new=j, sources=tuple(sorted(srcs))))
        _diff(old[i], new[j], p, ctx, field, out)
    for i, k in enumerate(okeys):
        if k not in in_new:
            out.append(Change(REMOVED, f"{path}[{i}]", old=old[i], sources=_subtree_sources(old[i], ctx)))


def _align(old: list[Any], new: list[Any], path: str, ctx: Sources, field: str, out: list[Change]) -> None:
    matcher = difflib.SequenceMatcher(
        None, [_fingerprint(x) for x in old], [_fingerprint(x) for x in new], autojunk=False
    )
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        paired = min(i2 - i1, j2 - j1)
        for d in range(paired):
            _diff(old[i1 + d], new[j1 + d], f"{path}[{j1 + d}]", ctx, field, out)
        for j in range(j1 + paired, j2):
            out.append(Change(ADDED, f"{path}[{j}]", new=new[j], sources=_subtree_sources(new[j], ctx)))
        for i in range(i1 + paired, i2):
            out.append(Change(REMOVED, f"{path}[{i}]", old=old[i], sources=_subtree_sources(old[i], ctx)))
