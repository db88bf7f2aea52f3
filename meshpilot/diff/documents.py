"""Recognise and read the JSON documents `meshpilot diff` accepts.

- a saved snapshot: `meshpilot translate -o json|yaml` output
  (`{node_id, listeners, routes, clusters, endpoints}`), or a list of them;
- an Envoy admin `/config_dump` (v3 admin format; endpoints only with `?include_eds`);
- a meshpilot admin `/debug/config_dump?node=ID` (`{node_id, resources: {CDS: {resources}}}`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from meshpilot.diff.snapshots import (
    CLUSTERS,
    ENDPOINTS,
    LISTENERS,
    ROUTES,
    TYPES,
    DiffInputError,
    ProxySnapshot,
    resources_by_name,
)

SNAPSHOT = "snapshot"  # meshpilot translate output
ENVOY_DUMP = "envoy config_dump"
MESHPILOT_DUMP = "meshpilot config_dump"

_ADMIN = "type.googleapis.com/envoy.admin.v3."
_MESHPILOT_TYPES = {"LDS": LISTENERS, "RDS": ROUTES, "CDS": CLUSTERS, "EDS": ENDPOINTS}


def kind_of(doc: Any) -> str | None:
    if isinstance(doc, Mapping):
        if isinstance(doc.get("configs"), list):
            return ENVOY_DUMP
        if isinstance(doc.get("resources"), Mapping) and "node_id" in doc:
            return MESHPILOT_DUMP
        if "node_id" in doc and any(isinstance(doc.get(t), list) for t in TYPES):
            return SNAPSHOT
    return None


def read_document(doc: Any, where: str) -> tuple[str, list[ProxySnapshot]]:
    """(kind, proxies) of a parsed JSON/YAML document; DiffInputError if it is none of them."""
    docs = doc if isinstance(doc, list) and doc else [doc]
    found = [kind_of(d) for d in docs]
    kinds = [k for k in found if k is not None]
    if len(kinds) != len(found):
        raise DiffInputError(
            f"{where} is not a snapshot (`meshpilot translate -o json`), an Envoy /config_dump or a "
            "meshpilot /debug/config_dump"
        )
    readers = {SNAPSHOT: _snapshot, ENVOY_DUMP: _envoy_dump, MESHPILOT_DUMP: _meshpilot_dump}
    try:
        proxies = [readers[k](d, where) for k, d in zip(kinds, docs, strict=True)]
    except (KeyError, TypeError, AttributeError) as exc:
        raise DiffInputError(f"{where}: malformed {kinds[0]} ({type(exc).__name__}: {exc})") from None
    return (kinds[0] if len(set(kinds)) == 1 else "mixed"), proxies


def _list(value: Any, where: str) -> list[Mapping[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(x, Mapping) for x in value):
        raise DiffInputError(f"{where}: expected a list of objects")
    return value


def _snapshot(doc: Mapping[str, Any], where: str) -> ProxySnapshot:
    resources = {t: resources_by_name(t, _list(doc[t], f"{where}: {t}"), rendered=True) for t in TYPES if t in doc}
    return ProxySnapshot(str(doc["node_id"]), resources)


def _meshpilot_dump(doc: Mapping[str, Any], where: str) -> ProxySnapshot:
    resources = {}
    for short, body in doc["resources"].items():
        t = _MESHPILOT_TYPES.get(short)
        if t is not None and isinstance(body, Mapping):
            items = _list(body.get("resources", []), f"{where}: {short}")
            resources[t] = resources_by_name(t, items, rendered=False)
    return ProxySnapshot(str(doc["node_id"]), resources)


def _envoy_dump(doc: Mapping[str, Any], where: str) -> ProxySnapshot:
    """Only what Envoy got over xDS and is using: active dynamic listeners and clusters,
    dynamic route configurations and the endpoints of EDS clusters. Static resources (from the
    bootstrap), warming, draining and failed ones are not compared."""
    by_type: dict[str, Mapping[str, Any]] = {}
    for config in _list(doc["configs"], f"{where}: configs"):
        by_type[str(config.get("@type", "")).removeprefix(_ADMIN)] = config
    node = by_type.get("BootstrapConfigDump", {}).get("bootstrap", {}).get("node", {})
    metadata = node.get("metadata") or {}
    # What meshpilot itself would see of this proxy: no LABELS metadata means no labels.
    labels = metadata.get("LABELS") or {} if node else None
    raw: dict[str, list[Mapping[str, Any]]] = {}
    if "ListenersConfigDump" in by_type:
        listeners = by_type["ListenersConfigDump"].get("dynamic_listeners", [])
        raw[LISTENERS] = [x["active_state"]["listener"] for x in listeners if "active_state" in x]
    if "RoutesConfigDump" in by_type:
        routes = by_type["RoutesConfigDump"].get("dynamic_route_configs", [])
        raw[ROUTES] = [x["route_config"] for x in routes if "route_config" in x]
    if "ClustersConfigDump" in by_type:
        clusters = by_type["ClustersConfigDump"].get("dynamic_active_clusters", [])
        raw[CLUSTERS] = [x["cluster"] for x in clusters if "cluster" in x]
    if "EndpointsConfigDump" in by_type:
        # Envoy dumps a load assignment for every cluster (STATIC, DNS, aggregate ones too, as
        # it resolved them); only those of EDS clusters came over xDS.
        eds = {
            (c.get("eds_cluster_config") or {}).get("service_name") or c.get("name")
            for c in raw.get(CLUSTERS, [])
            if c.get("type") == "EDS"
        }
        cla = by_type["EndpointsConfigDump"].get("dynamic_endpoint_configs", [])
        raw[ENDPOINTS] = [
            x["endpoint_config"]
            for x in cla
            if "endpoint_config" in x and x["endpoint_config"].get("cluster_name") in eds
        ]
    resources = {t: resources_by_name(t, items, rendered=False) for t, items in raw.items()}
    return ProxySnapshot(
        str(node.get("id") or "(unknown node)"),
        resources,
        labels={str(k): str(v) for k, v in labels.items()} if isinstance(labels, Mapping) else None,
        namespace=str(metadata["NAMESPACE"]) if metadata.get("NAMESPACE") else None,
    )
