"""Which meshpilot objects produced the resources of a response (for NACKs and diffs).

Every route, virtual host, listener and cluster carries `filter_metadata.meshpilot.sources`;
a ClusterLoadAssignment has no metadata, so it is attributed through its cluster.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from envoy.config.endpoint.v3 import endpoint_pb2
from envoy.config.route.v3 import route_pb2
from google.protobuf.message import Message

from meshpilot.xds.snapshot import Resource


def _sources(msg: Message) -> set[str]:
    md = getattr(msg, "metadata", None)
    if md is None or "meshpilot" not in md.filter_metadata:
        return set()
    field = md.filter_metadata["meshpilot"].fields.get("sources")
    return {v.string_value for v in field.list_value.values} if field is not None else set()


def resource_sources(res: Resource, clusters: Mapping[str, Resource]) -> set[str]:
    msg = res.message
    if isinstance(msg, endpoint_pb2.ClusterLoadAssignment):
        owner = clusters.get(msg.cluster_name)
        return _sources(owner.message) if owner is not None else set()
    out = _sources(msg)
    if isinstance(msg, route_pb2.RouteConfiguration):
        for vh in msg.virtual_hosts:
            out |= _sources(vh)
            for r in vh.routes:
                out |= _sources(r)
    return out


def objects_for(
    type_url: str,
    resources: Iterable[Resource],
    clusters: Mapping[str, Resource],
    error: str,
    accepted: Iterable[Resource] = (),
) -> list[str]:
    """The objects behind a rejected response: those of the resources Envoy's message names;
    else those of the resources that changed since the proxy last accepted this type
    (`accepted`); else those of every resource in the response."""
    resources = list(resources)
    named = [r for r in resources if r.name and r.name in error]
    old = {(r.name, r.digest) for r in accepted}
    changed = [r for r in resources if (r.name, r.digest) not in old]
    resources = named or changed or resources
    out: set[str] = set()
    for r in resources:
        out |= resource_sources(r, clusters)
    return sorted(out)
