"""What `meshpilot diff` compares: per proxy, per xDS type, resources by name.

Every input (a config directory, a saved `translate` output, an Envoy or meshpilot config
dump) is loaded into these shapes; the differ never knows where a side came from.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping, Sequence
from typing import Any

# xDS types, in the order they are printed.
LISTENERS = "listeners"
ROUTES = "routes"
CLUSTERS = "clusters"
ENDPOINTS = "endpoints"
TYPES = (LISTENERS, ROUTES, CLUSTERS, ENDPOINTS)

# The field holding a resource's name, per type.
NAME_FIELD = {LISTENERS: "name", ROUTES: "name", CLUSTERS: "name", ENDPOINTS: "cluster_name"}

# Envoy's proto message behind each type.
MESSAGE = {
    LISTENERS: "envoy.config.listener.v3.Listener",
    ROUTES: "envoy.config.route.v3.RouteConfiguration",
    CLUSTERS: "envoy.config.cluster.v3.Cluster",
    ENDPOINTS: "envoy.config.endpoint.v3.ClusterLoadAssignment",
}


class DiffInputError(Exception):
    """A user mistake or an unreadable input: one line, exit code 2."""


@dataclasses.dataclass(frozen=True)
class Resource:
    """One xDS resource as read. `raw` is a plain dict (proto field names, no `@type` wrapper).

    `rendered` is True when `raw` is known to be `plain()` output of a protobuf message (a
    translated config directory, a saved `meshpilot translate` snapshot): it needs no round
    trip through the protobuf classes to be canonical.
    """

    type: str
    name: str
    raw: Mapping[str, Any]
    rendered: bool


@dataclasses.dataclass(frozen=True)
class ProxySnapshot:
    node_id: str
    # Only the types this input knows about: a type missing here is not compared.
    resources: Mapping[str, Mapping[str, Resource]]
    labels: Mapping[str, str] | None = None  # known for Envoy dumps and translated config
    namespace: str | None = None

    def cluster_for_endpoints(self, cla_name: str) -> Resource | None:
        """The cluster a ClusterLoadAssignment belongs to (by EDS service name, else by name)."""
        return self._eds_owners.get(cla_name) or self.resources.get(CLUSTERS, {}).get(cla_name)

    @functools.cached_property
    def _eds_owners(self) -> dict[str, Resource]:
        out = {}
        for c in self.resources.get(CLUSTERS, {}).values():
            eds = c.raw.get("eds_cluster_config")
            if isinstance(eds, Mapping) and eds.get("service_name"):
                out[str(eds["service_name"])] = c
        return out


@dataclasses.dataclass(frozen=True)
class Side:
    label: str  # "OLD" or "NEW"
    source: str  # the argument as the user gave it
    kind: str  # see inputs.KINDS
    proxies: Mapping[str, ProxySnapshot]
    warnings: tuple[str, ...] = ()


def resources_by_name(type_: str, items: Sequence[Mapping[str, Any]], rendered: bool) -> dict[str, Resource]:
    field = NAME_FIELD[type_]
    out: dict[str, Resource] = {}
    for raw in items:
        if "@type" in raw:
            raw = {k: v for k, v in raw.items() if k != "@type"}
        name = raw.get(field, "")
        out[str(name)] = Resource(type_, str(name), raw, rendered)
    return dict(sorted(out.items()))
