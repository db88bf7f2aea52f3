"""VirtualService delegation (Istio's VirtualService chaining, one level deep).

A root route with `delegate: {name, namespace}` is replaced by the delegate VirtualService's
routes, each with its match merged with the root's: URIs must nest (the delegate's exact or
prefix URI must start with the root's prefix), header/query/withoutHeaders conditions are
combined, and any contradiction drops that combination with a diagnostic, as istiod does.
"""

from __future__ import annotations

from meshpilot.api.networking.v1 import common_pb2
from meshpilot.api.networking.v1 import virtual_service_pb2 as vs_pb2


class MatchConflict(ValueError):
    pass


def _merge_uri(root: common_pb2.StringMatch, child: common_pb2.StringMatch) -> common_pb2.StringMatch:
    r, c = root.WhichOneof("match_type"), child.WhichOneof("match_type")
    if r is None:
        return child
    if c is None:
        return root
    if r == "prefix" and c in ("prefix", "exact"):
        value = getattr(child, c)
        if not value.startswith(root.prefix):
            raise MatchConflict(f"uri {c} {value!r} is not under the root's prefix {root.prefix!r}")
        return child
    if r == "prefix" and c == "regex":
        return child  # cannot be checked statically; the delegate's regex is used
    if root == child:
        return child
    raise MatchConflict(f"uri {r} {getattr(root, r)!r} and {c} {getattr(child, c)!r} cannot both match")


def _merge_maps(name: str, root: object, child: object, out: object) -> None:
    for key, value in root.items():  # type: ignore[attr-defined]
        out[key].CopyFrom(value)  # type: ignore[index]
    for key, value in child.items():  # type: ignore[attr-defined]
        if key in out and out[key] != value:  # type: ignore[operator,index]
            raise MatchConflict(f"{name}.{key} differs between the root and the delegate")
        out[key].CopyFrom(value)  # type: ignore[index]


def merge_match(
    root: vs_pb2.HTTPMatchRequest | None, child: vs_pb2.HTTPMatchRequest | None
) -> vs_pb2.HTTPMatchRequest | None:
    """The match of a delegate route under a root match; raises MatchConflict."""
    if root is None:
        return child
    if child is None:
        return root
    out = vs_pb2.HTTPMatchRequest()
    out.CopyFrom(child)
    merged_uri = _merge_uri(root.uri, child.uri)
    out.ClearField("uri")
    if merged_uri.WhichOneof("match_type"):
        out.uri.CopyFrom(merged_uri)
    for field in ("scheme", "method", "authority"):
        r, c = getattr(root, field), getattr(child, field)
        if root.HasField(field) and child.HasField(field) and r != c:
            raise MatchConflict(f"{field} differs between the root and the delegate")
        if root.HasField(field):
            getattr(out, field).CopyFrom(r)
    for field in ("headers", "query_params", "without_headers"):
        getattr(out, field).clear()
        _merge_maps(field, getattr(root, field), getattr(child, field), getattr(out, field))
    if root.port and child.port and root.port != child.port:
        raise MatchConflict("port differs between the root and the delegate")
    out.port = root.port or child.port
    # Where the root route applies (gateways, source workloads) restricts its delegates too.
    if root.gateways and not child.gateways:
        out.gateways.extend(root.gateways)
    for k, v in root.source_labels.items():
        if k in child.source_labels and child.source_labels[k] != v:
            raise MatchConflict(f"sourceLabels.{k} differs between the root and the delegate")
        out.source_labels[k] = v
    if root.source_namespace and child.source_namespace and root.source_namespace != child.source_namespace:
        raise MatchConflict("sourceNamespace differs between the root and the delegate")
    out.source_namespace = root.source_namespace or child.source_namespace
    out.ignore_uri_case = root.ignore_uri_case or child.ignore_uri_case
    out.name = ".".join(n for n in (root.name, child.name) if n)
    return out


def merged_routes(
    root: vs_pb2.HTTPRoute, delegate: vs_pb2.VirtualService
) -> tuple[list[tuple[int, vs_pb2.HTTPRoute]], list[str]]:
    """(delegate route index, route with merged matches) for each delegate route, plus the
    reasons of every dropped combination."""
    out: list[tuple[int, vs_pb2.HTTPRoute]] = []
    problems: list[str] = []
    root_matches: list[vs_pb2.HTTPMatchRequest | None] = list(root.match) or [None]
    for j, child in enumerate(delegate.http):
        matches: list[vs_pb2.HTTPMatchRequest] = []
        child_matches: list[vs_pb2.HTTPMatchRequest | None] = list(child.match) or [None]
        for rm in root_matches:
            for cm in child_matches:
                try:
                    m = merge_match(rm, cm)
                except MatchConflict as exc:
                    problems.append(f"delegate route http[{j}]: {exc}; that combination is dropped")
                    continue
                if m is not None:
                    matches.append(m)
        if not matches and (root.match or child.match):
            continue
        route = vs_pb2.HTTPRoute()
        route.CopyFrom(child)
        del route.match[:]
        route.match.extend(matches)
        out.append((j, route))
    return out, problems
