"""VirtualService `tcp` and `tls` routes on gateway servers -> Envoy tcp_proxy filters.

Istiod's rules (pilot/pkg/networking/core/gateway.go, networkfilter.go):
- a VirtualService applies to a server when it binds the server's Gateway and one of its hosts
  overlaps a server host the VirtualService's namespace may use (as for HTTP);
- a match applies on a gateway when its `port` (if set) is the server's port and its `gateways`
  (if set) name the server's Gateway; `sourceLabels`, `sourceNamespace` and
  `destinationSubnets` are not evaluated on gateways (istiod's l4SingleMatch);
- TCP and TLS-terminating servers use the first applicable `tcp` route of the first
  VirtualService, in (namespace, name) order; a `tcp` route without `match` always applies;
- PASSTHROUGH servers get one filter chain per applicable `tls` match, matching its `sniHosts`;
  a match whose SNI hosts are already routed on the listener is skipped (Envoy refuses two
  filter chains with the same match);
- one destination: `tcp_proxy.cluster`, stat prefix the cluster name; several: weighted
  clusters (weight 0 dropped), stat prefix `<vs name>.<vs namespace>`. The cluster name is
  RouteBuilder's (istiod's GetDestinationCluster, ASM fallback included). A DestinationRule's
  `connectionPool.tcp.idleTimeout` becomes the idle timeout, `consistentHash.useSourceIp` a
  source IP hash policy.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence

from envoy.config.listener.v3 import listener_components_pb2 as lc
from envoy.extensions.filters.network.tcp_proxy.v3 import tcp_proxy_pb2
from envoy.type.v3 import hash_policy_pb2

from meshpilot.api.networking.v1 import virtual_service_pb2 as vs_pb2
from meshpilot.model.diagnostics import Diagnostic, Severity
from meshpilot.model.objects import ConfigObject
from meshpilot.model.registry import resolve_short_name
from meshpilot.translator import naming
from meshpilot.translator.envoy import to_any
from meshpilot.translator.gateway_servers import BoundServer, server_host_admits
from meshpilot.translator.routes import RouteBuilder, qualify_gateway

TCP_PROXY = "envoy.filters.network.tcp_proxy"


@dataclasses.dataclass(frozen=True)
class L4Chain:
    """One filter chain's worth of routing: SNI hosts to match (empty = any) and the filters."""

    server_names: tuple[str, ...]
    filters: tuple[lc.Filter, ...]
    sources: tuple[str, ...]
    vs: ConfigObject
    path: str  # the VirtualService field it came from, e.g. spec.tls[0].match[1]


def l4_match(
    m: vs_pb2.L4MatchAttributes | vs_pb2.TLSMatchAttributes, port: int, gateway: str, vs_namespace: str
) -> bool:
    if m.port and m.port != port:
        return False
    return not m.gateways or gateway in {qualify_gateway(g, vs_namespace) for g in m.gateways}


def binds(vs: ConfigObject, server: BoundServer) -> bool:
    """Does the VirtualService bind this server: its Gateway, and an admitted overlapping host?"""
    spec = vs.spec
    assert isinstance(spec, vs_pb2.VirtualService)
    if server.gateway_ref not in {qualify_gateway(g, vs.namespace) for g in spec.gateways}:
        return False
    hosts = [resolve_short_name(h.lower(), vs.namespace) for h in spec.hosts]
    return any(
        server_host_admits(sh, server.gateway.namespace, vs, h) is not None for h in hosts for sh in server.server.hosts
    )


def _idle_timeout_and_hash(builder: RouteBuilder, cluster: str, proxy: tcp_proxy_pb2.TcpProxy) -> None:
    if cluster.startswith("fallback|"):
        cluster = "outbound|" + "|".join(cluster.split("|")[1:4])
    parsed = naming.parse_outbound_cluster(cluster)
    if parsed is None:
        return
    port, subset, host = parsed
    policy = builder.ctx.policy(host, subset, port, builder.proxy.namespace)
    tcp = policy.connection_pool.tcp
    if tcp.HasField("idle_timeout"):
        proxy.idle_timeout.CopyFrom(tcp.idle_timeout)
    ch = policy.load_balancer.consistent_hash
    if policy.load_balancer.WhichOneof("lb_policy") == "consistent_hash" and ch.use_source_ip:
        proxy.hash_policy.add(source_ip=hash_policy_pb2.HashPolicy.SourceIp())


def tcp_proxy_filter(
    builder: RouteBuilder, vs: ConfigObject, routes: Sequence[vs_pb2.RouteDestination], path: str, port: int
) -> lc.Filter:
    """The tcp_proxy for a route's destinations, on a listener of `port`."""
    builder.listener_port = port
    legs = [(j, d) for j, d in enumerate(routes) if len(routes) == 1 or d.weight > 0]
    proxy = tcp_proxy_pb2.TcpProxy()
    if len(legs) == 1:
        j, d = legs[0]
        cluster = builder.destination_cluster(vs, d, f"{path}.route[{j}]")
        proxy.stat_prefix = naming.tcp_stat_prefix(cluster)
        proxy.cluster = cluster
        _idle_timeout_and_hash(builder, cluster, proxy)
    else:
        proxy.stat_prefix = naming.tcp_weighted_stat_prefix(vs.name, vs.namespace)
        for j, d in legs:
            cluster = builder.destination_cluster(vs, d, f"{path}.route[{j}]")
            proxy.weighted_clusters.clusters.add(name=cluster, weight=d.weight)
        # istiod: the first destination's DestinationRule decides idle timeout and hashing.
        _idle_timeout_and_hash(builder, proxy.weighted_clusters.clusters[0].name, proxy)
    return lc.Filter(name=TCP_PROXY, typed_config=to_any(proxy))


def _spec(vs: ConfigObject) -> vs_pb2.VirtualService:
    spec = vs.spec
    assert isinstance(spec, vs_pb2.VirtualService)
    return spec


def tcp_chain(
    builder: RouteBuilder, server: BoundServer, vses: Iterable[ConfigObject], server_names: tuple[str, ...] = ()
) -> tuple[L4Chain | None, list[Diagnostic]]:
    """The tcp route of a TCP or TLS-terminating server (the first that applies), if any."""
    candidates: list[tuple[ConfigObject, int]] = []
    for vs in vses:
        if not binds(vs, server):
            continue
        for i, tcp in enumerate(_spec(vs).tcp):
            if tcp.route and (
                not tcp.match or any(l4_match(m, server.port, server.gateway_ref, vs.namespace) for m in tcp.match)
            ):
                candidates.append((vs, i))
                break
    diags: list[Diagnostic] = []
    if not candidates:
        return None, diags
    vs, i = candidates[0]
    path = f"spec.tcp[{i}]"
    flt = tcp_proxy_filter(builder, vs, list(_spec(vs).tcp[i].route), path, server.port)
    for other, j in candidates[1:]:
        diags.append(
            Diagnostic(
                Severity.WARNING,
                str(other.key),
                f"spec.tcp[{j}]",
                f"{server.describe()} (port {server.port}) is already routed by {vs.key} spec.tcp[{i}] "
                "(first in namespace/name order); this tcp route is not used there",
                str(other.source),
                conflict=(str(vs.key), str(other.key)),
            )
        )
    return L4Chain(server_names, (flt,), (str(vs.key),), vs, path), diags


def _tls_matches(server: BoundServer, vses: Iterable[ConfigObject]) -> Iterator[tuple[ConfigObject, int, int]]:
    for vs in vses:
        if not binds(vs, server):
            continue
        for i, tls in enumerate(_spec(vs).tls):
            if not tls.route:
                continue
            for j, m in enumerate(tls.match):
                if l4_match(m, server.port, server.gateway_ref, vs.namespace):
                    yield vs, i, j


def match_key(server_names: Iterable[str]) -> set[str]:
    """The SNI values a chain claims on its listener; `*` (any SNI) claims the empty name."""
    names = set(server_names)
    return {""} if not names or "*" in names else names


def passthrough_chains(
    builder: RouteBuilder, server: BoundServer, vses: Iterable[ConfigObject], claimed: dict[str, str]
) -> tuple[list[L4Chain], list[Diagnostic]]:
    """One chain per applicable tls match of a PASSTHROUGH server. `claimed` maps the SNI values
    already routed on the listener to their owner, and is updated."""
    chains: list[L4Chain] = []
    diags: list[Diagnostic] = []
    for vs, i, j in _tls_matches(server, vses):
        spec = _spec(vs)
        m = spec.tls[i].match[j]
        names = tuple(sorted({h.lower() for h in m.sni_hosts}))
        path = f"spec.tls[{i}].match[{j}]"
        taken = sorted(n for n in match_key(names) if n in claimed)
        if taken:
            owners = sorted({claimed[n] for n in taken})
            shown = ", ".join(n or "*" for n in taken)
            diags.append(
                Diagnostic(
                    Severity.ERROR,
                    str(vs.key),
                    f"{path}.sniHosts",
                    f"SNI host {shown} on port {server.port} is already routed by {', '.join(owners)}; "
                    "this match is ignored",
                    str(vs.source),
                    conflict=(*owners, f"{vs.key} {path}"),
                )
            )
            continue
        for n in match_key(names):
            claimed[n] = f"{vs.key} {path}"
        flt = tcp_proxy_filter(builder, vs, list(spec.tls[i].route), f"spec.tls[{i}]", server.port)
        chains.append(L4Chain(names, (flt,), (str(vs.key),), vs, path))
    return chains, diags
