"""Services and DestinationRule subsets -> Envoy Clusters and ClusterLoadAssignments.

Istio's conventions: one cluster per service port (`outbound|80||host`) and one per
subset and port (`outbound|80|v1|host`); subset endpoints are those whose labels include
all of the subset's labels; defaults from istiod (connect timeout 10s, LEAST_REQUEST,
circuit breakers effectively unlimited).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

from envoy.config.cluster.v3 import circuit_breaker_pb2, cluster_pb2
from envoy.config.core.v3 import base_pb2, health_check_pb2, protocol_pb2
from envoy.config.endpoint.v3 import endpoint_components_pb2, endpoint_pb2
from envoy.extensions.clusters.aggregate.v3 import cluster_pb2 as aggregate_pb2
from envoy.extensions.upstreams.http.v3 import http_protocol_options_pb2
from google.protobuf import wrappers_pb2

from meshpilot.model.diagnostics import Diagnostic, Severity
from meshpilot.model.proxy import ROUTER, Proxy
from meshpilot.model.registry import Endpoint, Service, ServicePort
from meshpilot.translator import naming
from meshpilot.translator.context import MeshContext
from meshpilot.translator.envoy import (
    ads_config_source,
    attribution,
    duration,
    socket_address,
    to_any,
)
from meshpilot.translator.locality import Plan
from meshpilot.translator.locality import plan as locality_plan_for
from meshpilot.translator.policy import apply_policy

CONNECT_TIMEOUT_S = 10  # istiod's default connectTimeout
_UNLIMITED = 4294967295
HTTP2_PROTOCOLS = {"HTTP2", "GRPC"}
DNS_RESOLUTIONS = ("DNS", "DNS_ROUND_ROBIN")
# Overprovisioning factor (percent) for subsets that have a fallback: with Envoy's default of
# 140, an aggregate cluster spills part of the traffic to the fallback as soon as fewer than
# ~71% of the primary's endpoints are healthy. ASM's fallback moves traffic only when the
# primary has no available endpoint, so the primary claims all the load while any is healthy.
FALLBACK_OVERPROVISIONING = 100_000


@dataclasses.dataclass
class ClusterSet:
    clusters: dict[str, cluster_pb2.Cluster]
    endpoints: dict[str, endpoint_pb2.ClusterLoadAssignment]
    diagnostics: list[Diagnostic]


def _locality(text: str) -> base_pb2.Locality:
    region, zone, subzone = ([*text.split("/"), "", "", ""])[:3]
    return base_pb2.Locality(region=region, zone=zone, sub_zone=subzone)


def load_assignment(
    name: str, endpoints: Iterable[Endpoint], *, overprovisioning: int = 0, locality_plan: Plan = (None, None)
) -> endpoint_pb2.ClusterLoadAssignment:
    by_locality: dict[str, list[Endpoint]] = {}
    for ep in endpoints:
        by_locality.setdefault(ep.locality, []).append(ep)
    priority_of, weights_of = locality_plan
    weights = weights_of(sorted(by_locality)) if weights_of is not None else None
    if weights is not None:  # distribute: localities without weight get no traffic
        by_locality = {loc: eps for loc, eps in by_locality.items() if loc in weights}
    levels = sorted({priority_of(loc) for loc in by_locality}) if priority_of else [0]
    cla = endpoint_pb2.ClusterLoadAssignment(cluster_name=name)
    for locality, eps in sorted(by_locality.items()):
        group = cla.endpoints.add(locality=_locality(locality))
        if priority_of is not None:
            group.priority = levels.index(priority_of(locality))  # contiguous, as Envoy requires
        for ep in eps:
            group.lb_endpoints.add(
                endpoint=endpoint_components_pb2.Endpoint(address=socket_address(ep.address, ep.port)),
                health_status=health_check_pb2.HEALTHY,
                load_balancing_weight=wrappers_pb2.UInt32Value(value=ep.weight or 1),
            )
        group.load_balancing_weight.value = (
            weights[locality] if weights is not None else sum(ep.weight or 1 for ep in eps)
        )
    if overprovisioning:
        cla.policy.overprovisioning_factor.value = overprovisioning
    return cla


def _subset_endpoints(eps: Iterable[Endpoint], labels: Mapping[str, str]) -> list[Endpoint]:
    return [e for e in eps if all(e.labels.get(k) == v for k, v in labels.items())]


def _base_cluster(
    proxy_type: str, name: str, svc: Service, port: ServicePort, subset: str, sources: list[str]
) -> cluster_pb2.Cluster:
    c = cluster_pb2.Cluster(
        name=name,
        connect_timeout=duration(CONNECT_TIMEOUT_S),
        lb_policy=cluster_pb2.Cluster.LEAST_REQUEST,
        circuit_breakers=circuit_breaker_pb2.CircuitBreakers(
            thresholds=[
                circuit_breaker_pb2.CircuitBreakers.Thresholds(
                    max_connections=wrappers_pb2.UInt32Value(value=_UNLIMITED),
                    max_pending_requests=wrappers_pb2.UInt32Value(value=_UNLIMITED),
                    max_requests=wrappers_pb2.UInt32Value(value=_UNLIMITED),
                    max_retries=wrappers_pb2.UInt32Value(value=_UNLIMITED),
                    track_remaining=True,
                )
            ]
        ),
        metadata=attribution(sources),
    )
    if port.protocol in HTTP2_PROTOCOLS:
        opts = http_protocol_options_pb2.HttpProtocolOptions(
            explicit_http_config=http_protocol_options_pb2.HttpProtocolOptions.ExplicitHttpConfig(
                http2_protocol_options=protocol_pb2.Http2ProtocolOptions()
            )
        )
        c.typed_extension_protocol_options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"].CopyFrom(
            to_any(opts)
        )
    if svc.resolution in DNS_RESOLUTIONS:
        # istiod: DNS -> STRICT_DNS (every address), DNS_ROUND_ROBIN -> LOGICAL_DNS (one at a time).
        c.type = cluster_pb2.Cluster.STRICT_DNS if svc.resolution == "DNS" else cluster_pb2.Cluster.LOGICAL_DNS
        c.dns_lookup_family = cluster_pb2.Cluster.V4_ONLY
        c.respect_dns_ttl = True
    elif svc.resolution == "NONE" and proxy_type != ROUTER:
        c.type = cluster_pb2.Cluster.ORIGINAL_DST
        c.lb_policy = cluster_pb2.Cluster.CLUSTER_PROVIDED
    else:
        c.type = cluster_pb2.Cluster.EDS
        c.eds_cluster_config.eds_config.CopyFrom(ads_config_source())
    return c


class ClusterMemo:
    """Clusters and load assignments of a service, reused across config revisions while nothing
    they depend on changed (the service with its endpoints, its DestinationRule, the proxy's
    type, namespace and locality, which of its clusters back a fallback), so an edit costs work
    proportional to the services it touches. Bounded; entries are never mutated."""

    def __init__(self, size: int = 100_000) -> None:
        self.size = size
        self._entries: dict[tuple[object, ...], ClusterSet] = {}

    def get(self, key: tuple[object, ...]) -> ClusterSet | None:
        return self._entries.get(key)

    def put(self, key: tuple[object, ...], value: ClusterSet) -> None:
        if len(self._entries) >= self.size:
            self._entries.pop(next(iter(self._entries)))  # oldest first
        self._entries[key] = value


def _service_key(svc: Service, dr: object, proxy: Proxy, primaries: tuple[str, ...]) -> tuple[object, ...]:
    endpoints = tuple(
        (port, tuple((e.address, e.port, tuple(sorted(e.labels.items())), e.weight, e.locality) for e in eps))
        for port, eps in sorted(svc.endpoints.items())
    )
    fingerprint = (
        svc.hostname,
        svc.namespace,
        svc.ports,
        svc.resolution,
        svc.source,
        endpoints,
    )
    dr_key = (dr.key, dr.digest, dr.source) if dr is not None else None  # type: ignore[attr-defined]
    return (fingerprint, dr_key, proxy.type, proxy.namespace, proxy.locality, primaries)


def build_service_clusters(
    ctx: MeshContext,
    proxy: Proxy,
    services: Iterable[Service],
    fallback_primaries: set[str],
    memo: ClusterMemo | None = None,
) -> ClusterSet:
    out = ClusterSet({}, {}, [])
    primaries_by_host: dict[str, list[str]] = {}
    for name in fallback_primaries:
        primaries_by_host.setdefault(name.rsplit("|", 1)[-1], []).append(name)
    for svc in services:
        dr = ctx.destination_rule(svc.hostname, proxy.namespace)
        mine = tuple(sorted(primaries_by_host.get(svc.hostname, ())))
        key = _service_key(svc, dr, proxy, mine) if memo is not None else ()
        cached = memo.get(key) if memo is not None else None
        if cached is None:
            cached = _service_clusters(ctx, proxy, svc, fallback_primaries)
            if memo is not None:
                memo.put(key, cached)
        out.clusters.update(cached.clusters)
        out.endpoints.update(cached.endpoints)
        out.diagnostics.extend(cached.diagnostics)
    return out


def _service_clusters(ctx: MeshContext, proxy: Proxy, svc: Service, fallback_primaries: set[str]) -> ClusterSet:
    out = ClusterSet({}, {}, [])
    dr = ctx.destination_rule(svc.hostname, proxy.namespace)
    subsets = ctx.subsets(svc.hostname, proxy.namespace)
    for port in svc.ports:
        all_eps = svc.endpoints.get(port.number, ())
        variants: list[tuple[str, list[Endpoint], list[str]]] = [("", list(all_eps), [str(svc.source)])]
        for subset in subsets:
            assert dr is not None
            variants.append(
                (
                    subset.name,
                    _subset_endpoints(all_eps, subset.labels),
                    [str(svc.source), str(dr.key)],
                )
            )
        for subset_name, eps, sources in variants:
            name = naming.outbound_cluster(port.number, subset_name, svc.hostname)
            c = _base_cluster(proxy.type, name, svc, port, subset_name, sources)
            policy = ctx.policy(svc.hostname, subset_name, port.number, proxy.namespace)
            for message in apply_policy(c, policy, port.protocol in HTTP2_PROTOCOLS):
                assert dr is not None
                out.diagnostics.append(
                    Diagnostic(
                        Severity.WARNING,
                        str(dr.key),
                        "spec.trafficPolicy",
                        f"{name}: {message}",
                        str(dr.source),
                    )
                )
            if svc.resolution in DNS_RESOLUTIONS:
                if not eps and not svc.endpoints.get(port.number):
                    eps = [
                        Endpoint(
                            svc.hostname,
                            port.target_port if isinstance(port.target_port, int) else port.number,
                            {},
                        )
                    ]
                if c.type == cluster_pb2.Cluster.LOGICAL_DNS and len(eps) != 1:
                    # LOGICAL_DNS takes exactly one address: none left (a subset selecting
                    # nothing) resolves every address instead; several keep the first.
                    if eps:
                        eps = eps[:1]
                    else:
                        c.type = cluster_pb2.Cluster.STRICT_DNS
                if c.type != cluster_pb2.Cluster.ORIGINAL_DST:
                    c.load_assignment.CopyFrom(load_assignment(name, eps))
            elif c.type == cluster_pb2.Cluster.EDS:
                over = FALLBACK_OVERPROVISIONING if name in fallback_primaries else 0
                out.endpoints[name] = load_assignment(
                    name, eps, overprovisioning=over, locality_plan=locality_plan_for(policy, proxy)
                )
                if locality_plan_for(policy, proxy)[1] is not None:
                    c.common_lb_config.locality_weighted_lb_config.SetInParent()
            out.clusters[name] = c
    return out


def aggregate_cluster(name: str, children: list[str], sources: Iterable[str]) -> cluster_pb2.Cluster:
    """An `envoy.clusters.aggregate` cluster: Envoy uses the first child with healthy endpoints."""
    return cluster_pb2.Cluster(
        name=name,
        connect_timeout=duration(CONNECT_TIMEOUT_S),
        lb_policy=cluster_pb2.Cluster.CLUSTER_PROVIDED,
        cluster_type=cluster_pb2.Cluster.CustomClusterType(
            name="envoy.clusters.aggregate",
            typed_config=to_any(aggregate_pb2.ClusterConfig(clusters=children)),
        ),
        metadata=attribution(sources),
    )
