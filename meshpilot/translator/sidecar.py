"""Sidecar proxies: outbound listeners and routes per service port, inbound listeners to the
local workload, in Istio's two capture modes.

- Default (iptables interception): `virtualOutbound` on 0.0.0.0:15001 hands connections to
  per-port outbound listeners `0.0.0.0_<port>` (`bind_to_port: false`) by original destination;
  `virtualInbound` on 0.0.0.0:15006 has one filter chain per inbound port.
- Explicit (`Sidecar` egress/ingress with `captureMode: NONE`): listeners bind real addresses
  (egress default 127.0.0.1, ingress default the proxy's IP) and applications talk to them.

Outbound HTTP routes: RouteConfiguration `<port>` with a virtual host per service on that port
(`reviews.default.svc.cluster.local:9080`, domains with Istio's short-name variants) whose routes
come from the VirtualServices bound to `mesh`, or a default route to `outbound|port||host`;
plus `allow_any` (PassthroughCluster) or `block_all` (BlackHoleCluster) for other hosts.
"""

from __future__ import annotations

import dataclasses
import ipaddress

from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.listener.v3 import listener_components_pb2 as lc
from envoy.config.listener.v3 import listener_pb2
from envoy.config.route.v3 import route_components_pb2 as rc
from envoy.config.route.v3 import route_pb2

from meshpilot.api.networking.v1 import sidecar_pb2, virtual_service_pb2
from meshpilot.model.diagnostics import Diagnostic, Severity
from meshpilot.model.objects import ConfigObject
from meshpilot.model.proxy import Proxy
from meshpilot.model.registry import Endpoint, Service, resolve_short_name
from meshpilot.translator import naming
from meshpilot.translator.clusters import CONNECT_TIMEOUT_S, load_assignment
from meshpilot.translator.context import MeshContext
from meshpilot.translator.envoy import attribution, duration, socket_address
from meshpilot.translator.gateway_tls import tls_inspector
from meshpilot.translator.listeners import http_filter, original_dst_filter, tcp_filter
from meshpilot.translator.routes import RouteBuilder, default_retry_policy
from meshpilot.translator.scope import ProxyScope, egress_host_matches, host_pattern_matches
from meshpilot.translator.tcp_routes import tcp_proxy_filter

HTTP_PROTOCOLS = {"HTTP", "HTTP2", "GRPC", "GRPC-WEB"}
CM = sidecar_pb2.CaptureMode
MESH = "mesh"


@dataclasses.dataclass
class SidecarOutput:
    listeners: list[listener_pb2.Listener]
    routes: list[route_pb2.RouteConfiguration]
    clusters: list[cluster_pb2.Cluster]
    diagnostics: list[Diagnostic]


@dataclasses.dataclass(frozen=True)
class Egress:
    port: int  # 0 = every port of the hosts (catch-all)
    protocol: str
    bind: str
    explicit: bool  # captureMode NONE: binds a real address
    hosts: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Inbound:
    port: int
    protocol: str
    bind: str
    explicit: bool
    endpoint: str  # IP:PORT or unix://path of the workload


def explicit_egress_bind(proxy: Proxy) -> str:
    """Default bind of an egress listener with captureMode NONE. Istio uses 127.0.0.1, which is
    private to each pod. A proxy whose own address is a loopback address (several proxies on one
    host, as in `make demo`) shares the host's 127.0.0.1, so it binds its own address instead."""
    try:
        own_loopback = ipaddress.ip_address(proxy.ip).is_loopback
    except ValueError:
        own_loopback = False
    return proxy.ip if own_loopback else "127.0.0.1"


def default_endpoint(endpoint: str, port: int, proxy: Proxy) -> str:
    """Istio's defaultEndpoint: `127.0.0.1:PORT` (localhost), `0.0.0.0:PORT` (the instance IP),
    or `unix:///path`; unset means 127.0.0.1 and the listener's port."""
    if not endpoint:
        return f"127.0.0.1:{port}"
    host, sep, p = endpoint.rpartition(":")
    if sep and host in ("0.0.0.0", "[::]"):
        return f"{proxy.ip}:{p}"
    return endpoint


def _egress_listeners(scope: ProxyScope, proxy: Proxy) -> list[Egress]:
    spec = scope.spec
    if not spec.egress:
        return [Egress(0, "", naming.WILDCARD, False, ("*/*",))]
    out = []
    for eg in spec.egress:
        explicit = eg.capture_mode == CM.NONE
        bind = eg.bind or (explicit_egress_bind(proxy) if explicit else naming.WILDCARD)
        out.append(Egress(eg.port.number, eg.port.protocol.upper(), bind, explicit, tuple(eg.hosts)))
    return out


def _protocol_of(services: list[Service], port: int) -> str:
    protos = {p.protocol for s in services for p in s.ports if p.number == port}
    return "HTTP" if protos & HTTP_PROTOCOLS or not protos else sorted(protos)[0]


def _inbound_listeners(ctx: MeshContext, proxy: Proxy, scope: ProxyScope) -> list[Inbound]:
    spec = scope.spec
    if spec.ingress:
        out = []
        for ing in spec.ingress:
            explicit = ing.capture_mode == CM.NONE
            port = ing.port.number
            bind = ing.bind or (proxy.ip if explicit else naming.WILDCARD)
            endpoint = default_endpoint(ing.default_endpoint, ing.port.target_port or port, proxy)
            out.append(Inbound(port, (ing.port.protocol or "HTTP").upper(), bind, explicit, endpoint))
        return out
    # Implicit: the ports of the services that select this workload (istiod's inbound listeners).
    ports: dict[int, str] = {}
    for svc in ctx.registry.services.values():
        if svc.namespace != proxy.namespace or not svc.selector:
            continue
        if not all(proxy.labels.get(k) == v for k, v in svc.selector.items()):
            continue
        for p in svc.ports:
            target = p.target_port if isinstance(p.target_port, int) else p.number
            ports.setdefault(target, p.protocol)
    return [Inbound(port, proto, naming.WILDCARD, False, f"127.0.0.1:{port}") for port, proto in sorted(ports.items())]


def service_domains(svc: Service, port: int, proxy_ns: str) -> list[str]:
    """Istio's domain variants: the FQDN, `name.ns.svc`, `name.ns`, the bare name in the same
    namespace, and the VIPs, each also with `:port`."""
    names = [svc.hostname]
    suffix = f".{svc.namespace}.svc.cluster.local"
    if svc.hostname.endswith(suffix):
        short = svc.hostname[: -len(suffix)]
        names += [f"{short}.{svc.namespace}.svc", f"{short}.{svc.namespace}"]
        if svc.namespace == proxy_ns:
            names.append(short)
    names += [a for a in dict.fromkeys(svc.addresses) if "/" not in a]
    out: list[str] = []
    for n in names:
        out += [n, f"{n}:{port}"]
    return out


def _default_route(cluster: str, sources: list[str], builder: RouteBuilder) -> rc.Route:
    r = rc.Route(name="default", match=rc.RouteMatch(prefix="/"), metadata=attribution(sources))
    r.route.cluster = cluster
    r.route.hash_policy.extend(builder.hash_policy_for(cluster))
    r.route.timeout.CopyFrom(duration(0))
    r.route.retry_policy.CopyFrom(default_retry_policy())
    return r


def _mesh_virtual_services(ctx: MeshContext, proxy: Proxy) -> list[ConfigObject]:
    out = []
    for vs in ctx.virtual_services(proxy.namespace):
        spec = vs.spec
        assert isinstance(spec, virtual_service_pb2.VirtualService)
        if not spec.gateways or MESH in spec.gateways:
            out.append(vs)
    return out


def _outbound_route_config(
    ctx: MeshContext,
    proxy: Proxy,
    name: str,
    port: int,
    services: list[Service],
    builder: RouteBuilder,
    allow_any: bool,
) -> route_pb2.RouteConfiguration:
    rc_out = route_pb2.RouteConfiguration(name=name, validate_clusters={"value": False})
    mesh_vs = _mesh_virtual_services(ctx, proxy)
    used_domains: set[str] = set()
    for svc in sorted(services, key=lambda s: s.hostname):
        routes: list[rc.Route] = []
        owners: list[str] = []
        for vs in mesh_vs:
            spec = vs.spec
            assert isinstance(spec, virtual_service_pb2.VirtualService)
            hosts = [resolve_short_name(h.lower(), vs.namespace) for h in spec.hosts]
            if not any(host_pattern_matches(h, svc.hostname) for h in hosts):
                continue
            owners.append(str(vs.key))
            for i, http in enumerate(spec.http):
                routes.extend(builder.http_routes(vs, i, http, port=port, gateway=MESH))
        if len(owners) > 1:
            builder.diagnostics.append(
                Diagnostic(
                    Severity.WARNING,
                    owners[1],
                    "spec.hosts",
                    f"host {svc.hostname} is routed by {', '.join(owners)}; routes are merged in "
                    "(namespace, name) order, so the first one's routes match first",
                    conflict=tuple(owners),
                )
            )
        if not routes:
            routes = [_default_route(naming.outbound_cluster(port, "", svc.hostname), [str(svc.source)], builder)]
        domains = [d for d in service_domains(svc, port, proxy.namespace) if d not in used_domains]
        used_domains.update(domains)
        rc_out.virtual_hosts.add(
            name=naming.virtual_host(svc.hostname, port),
            domains=domains,
            routes=routes,
            metadata=attribution([str(svc.source), *owners]),
        )
    catch_all = rc_out.virtual_hosts.add(name="allow_any" if allow_any else "block_all", domains=["*"])
    r = catch_all.routes.add(name="allow_any" if allow_any else "block_all", match=rc.RouteMatch(prefix="/"))
    r.route.cluster = naming.PASSTHROUGH_CLUSTER if allow_any else naming.BLACKHOLE_CLUSTER
    r.route.timeout.CopyFrom(duration(0))
    return rc_out


def _mesh_tcp_filter(
    ctx: MeshContext, proxy: Proxy, builder: RouteBuilder, svc: Service, port: int
) -> lc.Filter | None:
    """A mesh VirtualService's `tcp` route for this service and port (the first that applies,
    in namespace/name order): weighted destinations, subsets and fallback included."""
    for vs in _mesh_virtual_services(ctx, proxy):
        spec = vs.spec
        assert isinstance(spec, virtual_service_pb2.VirtualService)
        hosts = [resolve_short_name(h.lower(), vs.namespace) for h in spec.hosts]
        if not any(host_pattern_matches(h, svc.hostname) for h in hosts):
            continue
        for i, tcp in enumerate(spec.tcp):
            applies = not tcp.match or any(
                (not m.port or m.port == port)
                and (not m.gateways or MESH in m.gateways)
                and all(proxy.labels.get(k) == v for k, v in m.source_labels.items())
                and (not m.source_namespace or m.source_namespace == proxy.namespace)
                for m in tcp.match
            )
            if tcp.route and applies:
                return tcp_proxy_filter(builder, vs, list(tcp.route), f"spec.tcp[{i}]", port)
    return None


def _mesh_tls_chains(
    ctx: MeshContext, proxy: Proxy, builder: RouteBuilder, services: list[Service], port: int
) -> list[lc.FilterChain]:
    """Mesh VirtualService `tls` routes for services on this port: one filter chain per SNI
    match (first VirtualService in namespace/name order wins a host), tcp_proxy to the route."""
    chains: list[lc.FilterChain] = []
    taken: set[str] = set()
    for vs in _mesh_virtual_services(ctx, proxy):
        spec = vs.spec
        assert isinstance(spec, virtual_service_pb2.VirtualService)
        hosts = [resolve_short_name(h.lower(), vs.namespace) for h in spec.hosts]
        if not any(host_pattern_matches(h, s.hostname) for h in hosts for s in services):
            continue
        for i, tls in enumerate(spec.tls):
            for m in tls.match:
                if (m.port and m.port != port) or (m.gateways and MESH not in m.gateways):
                    continue
                if any(proxy.labels.get(k) != v for k, v in m.source_labels.items()):
                    continue
                names = sorted(set(m.sni_hosts) - taken)
                if not names or not tls.route:
                    continue
                taken.update(names)
                chain = lc.FilterChain(
                    filters=[tcp_proxy_filter(builder, vs, list(tls.route), f"spec.tls[{i}]", port)],
                    metadata=attribution([str(vs.key)], vs.key.ref),
                )
                chain.filter_chain_match.server_names.extend(names)
                chains.append(chain)
    return chains


def _listener(name: str, bind: str, port: int, explicit: bool) -> listener_pb2.Listener:
    lst = listener_pb2.Listener(name=name, address=socket_address(bind, port))
    if not explicit:
        lst.bind_to_port.value = False  # reached through virtualOutbound/virtualInbound
    return lst


def _inbound_route_config(port: int) -> route_pb2.RouteConfiguration:
    cluster = naming.inbound_cluster(port)
    rcfg = route_pb2.RouteConfiguration(name=cluster, validate_clusters={"value": False})
    vh = rcfg.virtual_hosts.add(name=f"inbound|http|{port}", domains=["*"])
    r = vh.routes.add(name="default", match=rc.RouteMatch(prefix="/"))
    r.route.cluster = cluster
    r.route.timeout.CopyFrom(duration(0))  # istiod: no timeout and no retries inbound
    return rcfg


def _static_cluster(name: str, endpoint: str) -> cluster_pb2.Cluster:
    c = cluster_pb2.Cluster(name=name, type=cluster_pb2.Cluster.STATIC, connect_timeout=duration(CONNECT_TIMEOUT_S))
    if endpoint.startswith("unix://"):
        host, port = endpoint, 0
    else:
        host, _, p = endpoint.rpartition(":")
        host, port = host.strip("[]"), int(p)
    c.load_assignment.CopyFrom(load_assignment(name, [Endpoint(host, port, {})]))
    return c


def _special_clusters(with_inbound_passthrough: bool) -> list[cluster_pb2.Cluster]:
    out = [
        cluster_pb2.Cluster(
            name=naming.BLACKHOLE_CLUSTER,
            type=cluster_pb2.Cluster.STATIC,
            connect_timeout=duration(CONNECT_TIMEOUT_S),
        ),
        cluster_pb2.Cluster(
            name=naming.PASSTHROUGH_CLUSTER,
            type=cluster_pb2.Cluster.ORIGINAL_DST,
            lb_policy=cluster_pb2.Cluster.CLUSTER_PROVIDED,
            connect_timeout=duration(CONNECT_TIMEOUT_S),
        ),
    ]
    if with_inbound_passthrough:
        out.append(
            cluster_pb2.Cluster(
                name=naming.INBOUND_PASSTHROUGH_CLUSTER,
                type=cluster_pb2.Cluster.ORIGINAL_DST,
                lb_policy=cluster_pb2.Cluster.CLUSTER_PROVIDED,
                connect_timeout=duration(CONNECT_TIMEOUT_S),
            )
        )
    return out


def translate_sidecar(ctx: MeshContext, proxy: Proxy, scope: ProxyScope, builder: RouteBuilder) -> SidecarOutput:
    out = SidecarOutput([], [], [], list(scope.diagnostics))
    spec = scope.spec
    where = (str(scope.sidecar.key), str(scope.sidecar.source)) if scope.sidecar else ("", "")
    allow_any = not spec.HasField("outbound_traffic_policy") or (
        spec.outbound_traffic_policy.mode == sidecar_pb2.OutboundTrafficPolicy.ALLOW_ANY
    )
    bound: dict[tuple[str, int], str] = {}  # (address, port) -> listener name
    intercepted = False

    def claim(name: str, bind: str, port: int, path: str) -> bool:
        if (bind, port) in bound:
            out.diagnostics.append(
                Diagnostic(
                    Severity.ERROR,
                    where[0],
                    path,
                    f"{bind}:{port} is already used by listener {bound[(bind, port)]}; listener {name} skipped",
                    where[1],
                )
            )
            return False
        bound[(bind, port)] = name
        return True

    # ---------------------------------------------------------------- outbound
    covered: set[int] = set()
    egress = _egress_listeners(scope, proxy)
    for i, eg in enumerate(egress):
        visible = [s for s in scope.services if any(egress_host_matches(h, s, proxy.namespace) for h in eg.hosts)]
        ports = [eg.port] if eg.port else sorted({p.number for s in visible for p in s.ports} - covered)
        intercepted = intercepted or not eg.explicit
        for port in ports:
            covered.add(port)
            services = [s for s in visible if s.port(port) is not None]
            protocol = eg.protocol or _protocol_of(services, port)
            name = naming.listener(eg.bind, port)
            if not claim(name, eg.bind, port, f"spec.egress[{i}]"):
                continue
            lst = _listener(name, eg.bind, port, eg.explicit)
            lst.metadata.CopyFrom(attribution([where[0]] if where[0] else []))
            if protocol in HTTP_PROTOCOLS:
                route_name = naming.sidecar_outbound_route(port, eg.bind)
                lst.filter_chains.add(filters=[http_filter(f"outbound_{eg.bind}_{port}", rds=route_name)])
                # On an explicit listener the original destination is the listener itself, so
                # passing unknown hosts through would loop: they go to the BlackHoleCluster.
                out.routes.append(
                    _outbound_route_config(
                        ctx, proxy, route_name, port, services, builder, allow_any and not eg.explicit
                    )
                )
            elif len(services) == 1:
                routed = _mesh_tcp_filter(ctx, proxy, builder, services[0], port)
                cluster = naming.outbound_cluster(port, "", services[0].hostname)
                default = routed or tcp_filter(cluster, cluster)
                sni = _mesh_tls_chains(ctx, proxy, builder, services, port)
                if sni:  # TLS routes by SNI; other connections take the default
                    lst.listener_filters.append(tls_inspector())
                    lst.filter_chains.extend(sni)
                    lst.default_filter_chain.filters.append(default)
                else:
                    lst.filter_chains.add(filters=[default])
            else:
                if services:
                    out.diagnostics.append(
                        Diagnostic(
                            Severity.WARNING,
                            where[0] or f"proxy {proxy.node_id}",
                            f"spec.egress[{i}]" if where[0] else "",
                            f"{len(services)} {protocol} services share port {port} "
                            f"({', '.join(s.hostname for s in services)}); TCP traffic on it passes through "
                            "to its original destination",
                            where[1],
                        )
                    )
                # Explicit listeners never pass through (the original destination is themselves).
                use_passthrough = allow_any and not eg.explicit
                passthrough = naming.PASSTHROUGH_CLUSTER if use_passthrough else naming.BLACKHOLE_CLUSTER
                lst.filter_chains.add(filters=[tcp_filter(passthrough, passthrough)])
            out.listeners.append(lst)

    # ---------------------------------------------------------------- inbound
    inbound_chains: list[lc.FilterChain] = []
    for j, ib in enumerate(_inbound_listeners(ctx, proxy, scope)):
        cluster = naming.inbound_cluster(ib.port)
        out.clusters.append(_static_cluster(cluster, ib.endpoint))
        if ib.protocol in HTTP_PROTOCOLS:
            flt = http_filter(f"inbound_{ib.bind}_{ib.port}", route_config=_inbound_route_config(ib.port))
        else:
            flt = tcp_filter(cluster, cluster)
        if ib.explicit:
            name = naming.listener(ib.bind, ib.port)
            if not claim(name, ib.bind, ib.port, f"spec.ingress[{j}]"):
                continue
            lst = listener_pb2.Listener(name=name, address=socket_address(ib.bind, ib.port))
            lst.filter_chains.add(filters=[flt])
            out.listeners.append(lst)
        else:
            intercepted = True
            chain = lc.FilterChain(name=cluster, filters=[flt])
            chain.filter_chain_match.destination_port.value = ib.port
            inbound_chains.append(chain)

    # ---------------------------------------------------------------- iptables mode
    if intercepted:
        passthrough = naming.PASSTHROUGH_CLUSTER if allow_any else naming.BLACKHOLE_CLUSTER
        vo = listener_pb2.Listener(
            name=naming.VIRTUAL_OUTBOUND,
            address=socket_address(naming.WILDCARD, naming.VIRTUAL_OUTBOUND_PORT),
            use_original_dst={"value": True},
        )
        vo.filter_chains.add(name=passthrough, filters=[tcp_filter(passthrough, passthrough)])
        vi = listener_pb2.Listener(
            name=naming.VIRTUAL_INBOUND,
            address=socket_address(naming.WILDCARD, naming.VIRTUAL_INBOUND_PORT),
            listener_filters=[original_dst_filter()],
            filter_chains=inbound_chains,
        )
        vi.default_filter_chain.name = "virtualInbound-passthrough"
        vi.default_filter_chain.filters.append(
            tcp_filter(naming.INBOUND_PASSTHROUGH_CLUSTER, naming.INBOUND_PASSTHROUGH_CLUSTER)
        )
        out.listeners += [vo, vi]
    out.clusters += _special_clusters(intercepted)
    return out
