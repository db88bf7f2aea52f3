"""Proxy identity from an Envoy node: Istio-style ids and LABELS/NAMESPACE metadata.

Istio node ids look like `router~10.0.0.7~gw-7d9f.istio-system~istio-system.svc.cluster.local`
(`sidecar~...` for sidecars): type, IP, `<pod>.<namespace>`, DNS domain.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

ROUTER = "router"
SIDECAR = "sidecar"
PROXY_TYPES = (ROUTER, SIDECAR)


class ProxyIdError(ValueError):
    pass


@dataclasses.dataclass(frozen=True)
class Proxy:
    node_id: str
    type: str
    ip: str
    pod: str
    namespace: str
    labels: Mapping[str, str]
    locality: str = ""  # region/zone/subzone, from the Envoy node's locality

    @property
    def region_zone_subzone(self) -> tuple[str, str, str]:
        region, zone, subzone = ([*self.locality.split("/"), "", "", ""])[:3]
        return region, zone, subzone

    @property
    def group_key(self) -> tuple[str, str, tuple[tuple[str, str], ...], str, str]:
        """Proxies with equal keys get identical config, so one translation serves them all.
        A sidecar's config depends on its own address (explicit listeners bind it), a
        gateway's does not, so gateways with the same labels share one translation."""
        ip = self.ip if self.type == SIDECAR else ""
        return (self.type, self.namespace, tuple(sorted(self.labels.items())), self.locality, ip)

    @property
    def short(self) -> str:
        return f"{self.pod}.{self.namespace}"


def parse_proxy(node_id: str, metadata: Mapping[str, Any] | None = None, locality: str = "") -> Proxy:
    """Build a Proxy from a node id and node metadata; raises ProxyIdError if malformed."""
    metadata = metadata or {}
    parts = node_id.split("~")
    if len(parts) != 4:
        raise ProxyIdError(
            f"node id {node_id!r} is not of the form TYPE~IP~POD.NAMESPACE~DOMAIN "
            "(e.g. router~10.0.0.1~gateway-1.istio-system~istio-system.svc.cluster.local)"
        )
    ptype, ip, pod_ns, domain = parts
    if ptype not in PROXY_TYPES:
        raise ProxyIdError(f"node id {node_id!r}: proxy type {ptype!r} is not one of {PROXY_TYPES}")
    pod, _, ns_from_id = pod_ns.partition(".")
    namespace = str(metadata.get("NAMESPACE") or ns_from_id or domain.split(".")[0] or "default")
    raw_labels = metadata.get("LABELS") or {}
    if not isinstance(raw_labels, Mapping):
        raise ProxyIdError(f"node {node_id!r}: metadata LABELS must be a map of strings")
    labels = {str(k): str(v) for k, v in raw_labels.items()}
    return Proxy(
        node_id=node_id, type=ptype, ip=ip, pod=pod, namespace=namespace, labels=labels, locality=locality.strip("/")
    )
