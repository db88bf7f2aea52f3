"""Gateway proxies: Gateway servers -> Listeners, bound VirtualServices -> RouteConfigurations.

Istio's rules implemented here:
- a Gateway applies to a proxy when its `selector` labels are all on the proxy (empty = all);
- HTTP servers (HTTP, HTTP2, GRPC) on one port share one listener `0.0.0.0_<port>` whose
  HTTP connection manager fetches the route configuration `http.<port>` over RDS;
- a VirtualService binds to a gateway by `gateways: [ns/name]` (a bare name means the
  VirtualService's namespace); its hosts must match a server host on that port, and the
  server host's `ns/` part (`*`, `.`, or a namespace) must admit the VirtualService;
- virtual hosts are named `<host>:<port>` with domains `<host>` and `<host>:*`; several
  VirtualServices for the same host are merged in (namespace, name) order, with a diagnostic.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from envoy.config.listener.v3 import listener_components_pb2, listener_pb2
from envoy.config.route.v3 import route_pb2
from envoy.extensions.filters.http.router.v3 import router_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import (
    http_connection_manager_pb2 as hcm_pb2,
)

from meshpilot.api.networking.v1 import gateway_pb2, virtual_service_pb2
from meshpilot.model.diagnostics import Diagnostic, Severity
from meshpilot.model.objects import ConfigObject
from meshpilot.model.proxy import Proxy
from meshpilot.model.registry import resolve_short_name
from meshpilot.translator import naming
from meshpilot.translator.context import MeshContext
from meshpilot.translator.envoy import ads_config_source, attribution, socket_address, to_any
from meshpilot.translator.routes import RouteBuilder, qualify_gateway

HTTP_PROTOCOLS = {"HTTP", "HTTP2", "GRPC", "GRPC-WEB"}


@dataclasses.dataclass(frozen=True)
class BoundServer:
    gateway: ConfigObject
    index: int
    server: gateway_pb2.Server

    @property
    def gateway_ref(self) -> str:
        return f"{self.gateway.namespace}/{self.gateway.name}"


def selected_gateways(ctx: MeshContext, proxy: Proxy) -> list[ConfigObject]:
    out = []
    for gw in ctx.store.of_kind("Gateway"):
        spec = gw.spec
        assert isinstance(spec, gateway_pb2.Gateway)
        if all(proxy.labels.get(k) == v for k, v in spec.selector.items()):
            out.append(gw)
    return out


def host_matches(a: str, b: str) -> bool:
    """Do two host patterns (`*`, `*.example.com`, `foo.example.com`) overlap?"""
    if a == "*" or b == "*":
        return True
    if a.startswith("*."):
        return b.endswith(a[1:]) or (b.startswith("*.") and (b.endswith(a[1:]) or a.endswith(b[1:])))
    if b.startswith("*."):
        return a.endswith(b[1:])
    return a == b


def more_specific(a: str, b: str) -> str:
    """The narrower of two overlapping host patterns (Istio binds the intersection)."""
    if a == "*":
        return b
    if b == "*":
        return a
    if a.startswith("*.") and not b.startswith("*."):
        return b
    if b.startswith("*.") and not a.startswith("*."):
        return a
    return a if len(a) >= len(b) else b


def _server_host_admits(server_host: str, gateway_ns: str, vs: ConfigObject, vs_host: str) -> str | None:
    ns, _, host = server_host.lower().rpartition("/")
    if ns and ns != "*" and (ns if ns != "." else gateway_ns) != vs.namespace:
        return None
    return more_specific(host, vs_host) if host_matches(host, vs_host) else None


@dataclasses.dataclass
class GatewayOutput:
    listeners: list[listener_pb2.Listener]
    routes: list[route_pb2.RouteConfiguration]
    diagnostics: list[Diagnostic]


def _http_listener(address: str, port: int, servers: list[BoundServer]) -> listener_pb2.Listener:
    hcm = hcm_pb2.HttpConnectionManager(
        stat_prefix=naming.http_stat_prefix(address, port),
        rds=hcm_pb2.Rds(config_source=ads_config_source(), route_config_name=naming.gateway_route(port)),
        http_filters=[hcm_pb2.HttpFilter(name="envoy.filters.http.router", typed_config=to_any(router_pb2.Router()))],
        use_remote_address={"value": True},
        normalize_path={"value": True},
        merge_slashes=False,  # istiod's default path normalization (BASE) does not merge slashes
        path_with_escaped_slashes_action=hcm_pb2.HttpConnectionManager.KEEP_UNCHANGED,
    )
    hcm.stream_idle_timeout.seconds = 0
    return listener_pb2.Listener(
        name=naming.listener(address, port),
        address=socket_address(address, port),
        filter_chains=[
            listener_components_pb2.FilterChain(
                filters=[
                    listener_components_pb2.Filter(
                        name="envoy.filters.network.http_connection_manager",
                        typed_config=to_any(hcm),
                    )
                ]
            )
        ],
        metadata=attribution(str(s.gateway.key) for s in servers),
    )


def translate_gateway(ctx: MeshContext, proxy: Proxy, builder: RouteBuilder) -> GatewayOutput:
    out = GatewayOutput([], [], [])
    by_port: dict[tuple[str, int], list[BoundServer]] = {}
    for gw in selected_gateways(ctx, proxy):
        spec = gw.spec
        assert isinstance(spec, gateway_pb2.Gateway)
        for i, server in enumerate(spec.servers):
            protocol = server.port.protocol.upper()
            if protocol not in HTTP_PROTOCOLS:
                out.diagnostics.append(
                    Diagnostic(
                        Severity.WARNING,
                        str(gw.key),
                        f"spec.servers[{i}].port.protocol",
                        f"{protocol} servers are not supported yet; server ignored",
                        str(gw.source),
                    )
                )
                continue
            if server.HasField("tls"):
                out.diagnostics.append(
                    Diagnostic(
                        Severity.WARNING,
                        str(gw.key),
                        f"spec.servers[{i}].tls",
                        "TLS settings are not supported yet; ignored",
                        str(gw.source),
                    )
                )
            address = server.bind or "0.0.0.0"
            by_port.setdefault((address, server.port.number), []).append(BoundServer(gw, i, server))
    ports_seen: dict[int, str] = {}
    for (address, port), servers in sorted(by_port.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        if port in ports_seen:
            first = servers[0]
            out.diagnostics.append(
                Diagnostic(
                    Severity.ERROR,
                    str(first.gateway.key),
                    f"spec.servers[{first.index}].bind",
                    f"port {port} is already bound on {ports_seen[port]}; server ignored",
                    str(first.gateway.source),
                )
            )
            continue
        ports_seen[port] = address
        out.listeners.append(_http_listener(address, port, servers))
        out.routes.append(_route_config(ctx, port, servers, builder))
    return out


def _bound_virtual_services(ctx: MeshContext, servers: list[BoundServer]) -> Iterable[tuple[ConfigObject, BoundServer]]:
    refs = {s.gateway_ref: s for s in servers}
    for vs in ctx.virtual_services(servers[0].gateway.namespace if servers else ""):
        spec = vs.spec
        assert isinstance(spec, virtual_service_pb2.VirtualService)
        for g in spec.gateways:
            bound = refs.get(qualify_gateway(g, vs.namespace))
            if bound is not None:
                yield vs, bound


def _route_config(
    ctx: MeshContext, port: int, servers: list[BoundServer], builder: RouteBuilder
) -> route_pb2.RouteConfiguration:
    vhosts: dict[str, list] = {}  # type: ignore[type-arg]
    owners: dict[str, list[str]] = {}
    seen: set[tuple[str, str]] = set()
    for vs, bound in _bound_virtual_services(ctx, servers):
        spec = vs.spec
        assert isinstance(spec, virtual_service_pb2.VirtualService)
        gateway_hosts = [h for s in servers if s.gateway_ref == bound.gateway_ref for h in s.server.hosts]
        # Hostnames are case-insensitive; a short name means the VirtualService's namespace.
        vs_hosts = dict.fromkeys(resolve_short_name(h.lower(), vs.namespace) for h in spec.hosts)
        for vs_host in vs_hosts:
            for server_host in gateway_hosts:
                host = _server_host_admits(server_host, bound.gateway.namespace, vs, vs_host)
                if host is None or (str(vs.key), host) in seen:
                    continue
                seen.add((str(vs.key), host))
                routes = []
                for i, http in enumerate(spec.http):
                    routes.extend(builder.http_routes(vs, i, http, port=port, gateway=bound.gateway_ref))
                if host in owners:
                    builder.diagnostics.append(
                        Diagnostic(
                            Severity.WARNING,
                            str(vs.key),
                            "spec.hosts",
                            f"host {host} on port {port} is also routed by {', '.join(owners[host])}; "
                            "routes are merged in (namespace, name) order, so the first one's "
                            "routes match first",
                            str(vs.source),
                            conflict=(*owners[host], str(vs.key)),
                        )
                    )
                owners.setdefault(host, []).append(str(vs.key))
                vhosts.setdefault(host, []).extend(routes)
    rc = route_pb2.RouteConfiguration(name=naming.gateway_route(port), validate_clusters={"value": False})
    for host in sorted(vhosts):
        # Envoy allows one wildcard per domain: `*.example.com:*` would never match, so a
        # wildcard host gets the listener port, as istiod does.
        if host == "*":
            domains = [host]
        elif host.startswith("*"):
            domains = [host, f"{host}:{port}"]
        else:
            domains = [host, f"{host}:*"]
        rc.virtual_hosts.add(
            name=naming.virtual_host(host, port),
            domains=domains,
            routes=vhosts[host],
            metadata=attribution(owners[host]),
        )
    rc.metadata.CopyFrom(attribution(str(s.gateway.key) for s in servers))
    return rc
