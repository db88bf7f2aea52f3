"""Gateway proxies: Gateway servers -> Listeners, bound VirtualServices -> RouteConfigurations.

Istiod's rules implemented here (pilot/pkg/model/gateway.go mergeGateways, and
pilot/pkg/networking/core/gateway.go buildGatewayListeners):
- servers are taken in (Gateway namespace, name, server index) order and grouped by port; a port
  listens on one address (`bind`, default 0.0.0.0), the lowest if servers disagree;
- the first server on a port decides what the port is: plaintext HTTP servers share one listener
  `<bind>_<port>` whose HTTP connection manager loads `http.<port>`; a TCP server has the port to
  itself; TLS servers (HTTPS and TLS, any mode) share the listener as filter chains matched by
  SNI (`server_names`, none for `*`) behind a `tls_inspector`. A server that does not fit is an
  error and is ignored, as is a TLS server whose hosts repeat hosts already on the port;
- an HTTPS server terminates TLS (gateway_tls.py) and gets its own route configuration
  `https.<port>.<port name>.<gateway>.<namespace>`; TLS servers terminating TLS, TCP servers
  and PASSTHROUGH servers proxy TCP (tcp_routes.py). A listener without filter chains is left
  out;
- a VirtualService binds to a gateway by `gateways: [ns/name]` (a bare name means the
  VirtualService's namespace); its hosts must match a server host on that port, and the
  server host's `ns/` part (`*`, `.`, or a namespace) must admit the VirtualService;
- virtual hosts are named `<host>:<port>` with domains `<host>` and `<host>:*`; several
  VirtualServices for the same host are merged in (namespace, name) order, with a diagnostic;
- `tls.httpsRedirect` on an HTTP server: its virtual hosts require TLS (`require_tls: ALL`, a
  301 to https), and each of its hosts without routes gets such a virtual host.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

from envoy.config.listener.v3 import listener_components_pb2 as lc
from envoy.config.listener.v3 import listener_pb2
from envoy.config.route.v3 import route_components_pb2 as rc
from envoy.config.route.v3 import route_pb2
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
from meshpilot.translator.envoy import ads_config_source, attribution, duration, socket_address, to_any
from meshpilot.translator.gateway_servers import (
    TERMINATING_MODES,
    TLS,
    BoundServer,
    ServerKind,
    classify,
    host_matches,
    more_specific,
    selected_gateways,
    server_host_admits,
)
from meshpilot.translator.gateway_tls import HANDSHAKE_TIMEOUT_S, tls_inspector, tls_warnings, transport_socket
from meshpilot.translator.listeners import standard_http_filters
from meshpilot.translator.routes import RouteBuilder, qualify_gateway
from meshpilot.translator.secrets import missing_material
from meshpilot.translator.tcp_routes import L4Chain, match_key, passthrough_chains, tcp_chain

__all__ = ["GatewayOutput", "host_matches", "more_specific", "selected_gateways", "translate_gateway"]

FCC = hcm_pb2.HttpConnectionManager.SetCurrentClientCertDetails


@dataclasses.dataclass
class GatewayOutput:
    listeners: list[listener_pb2.Listener]
    routes: list[route_pb2.RouteConfiguration]
    diagnostics: list[Diagnostic]


def _hcm(stat_prefix: str, rds: str, *, tls: bool = False) -> lc.Filter:
    hcm = hcm_pb2.HttpConnectionManager(
        stat_prefix=stat_prefix,
        rds=hcm_pb2.Rds(config_source=ads_config_source(), route_config_name=rds),
        http_filters=standard_http_filters(),
        use_remote_address={"value": True},
        normalize_path={"value": True},
        merge_slashes=False,  # istiod's default path normalization (BASE) does not merge slashes
        path_with_escaped_slashes_action=hcm_pb2.HttpConnectionManager.KEEP_UNCHANGED,
    )
    hcm.stream_idle_timeout.seconds = 0
    if tls:
        # istiod's gateway default: replace any client-sent XFCC with the verified client
        # certificate's details (nothing is added when the client sent no certificate).
        hcm.forward_client_cert_details = hcm_pb2.HttpConnectionManager.SANITIZE_SET
        hcm.set_current_client_cert_details.CopyFrom(FCC(subject={"value": True}, cert=True, dns=True, uri=True))
    return lc.Filter(name="envoy.filters.network.http_connection_manager", typed_config=to_any(hcm))


def _listener(
    address: str, port: int, chains: Sequence[lc.FilterChain], sources: Iterable[str], *, inspect_tls: bool = False
) -> listener_pb2.Listener:
    out = listener_pb2.Listener(
        name=naming.listener(address, port),
        address=socket_address(address, port),
        filter_chains=chains,
        metadata=attribution(sources),
    )
    if inspect_tls:
        out.listener_filters.append(tls_inspector())
    return out


def _server_names_match(names: Iterable[str]) -> lc.FilterChainMatch | None:
    """istiod's toFilterChainMatch: SNI hosts, sorted; none at all when `*` is among them."""
    names = sorted(set(names))
    if not names or "*" in names:
        return None
    return lc.FilterChainMatch(server_names=names)


def _tls_chain(
    b: BoundServer, filters: Sequence[lc.Filter], names: Iterable[str], sources: Iterable[str]
) -> lc.FilterChain:
    chain = lc.FilterChain(
        filters=filters,
        transport_socket=transport_socket(b.server.tls),
        metadata=attribution(sources),
    )
    chain.transport_socket_connect_timeout.CopyFrom(duration(HANDSHAKE_TIMEOUT_S))
    match = _server_names_match(names)
    if match is not None:
        chain.filter_chain_match.CopyFrom(match)
    return chain


def _l4_chain(chain: L4Chain, server: BoundServer | None = None) -> lc.FilterChain:
    """A tcp_proxy chain: TLS-terminating when `server` is given, else plain or passthrough."""
    sources = [*chain.sources, *([str(server.gateway.key)] if server else [])]
    if server is not None:
        return _tls_chain(server, chain.filters, chain.server_names, sources)
    out = lc.FilterChain(filters=chain.filters, metadata=attribution(sources, chain.vs.key.ref))
    match = _server_names_match(chain.server_names)
    if match is not None:
        out.filter_chain_match.CopyFrom(match)
    return out


# ---------------------------------------------------------------------------- servers -> ports


def _collect(ctx: MeshContext, proxy: Proxy, out: GatewayOutput) -> dict[int, list[BoundServer]]:
    by_port: dict[int, list[BoundServer]] = {}
    for gw in selected_gateways(ctx, proxy):
        spec = gw.spec
        assert isinstance(spec, gateway_pb2.Gateway)
        for i, server in enumerate(spec.servers):
            bound, diags = classify(gw, i, server)
            out.diagnostics.extend(diags)
            if bound is None:
                continue
            if server.HasField("tls"):
                out.diagnostics.extend(bound.diagnostic(Severity.WARNING, f, m) for f, m in tls_warnings(server.tls))
                tls = server.tls
                if tls.credential_name and tls.mode in TERMINATING_MODES:
                    lacking = missing_material(ctx, proxy, tls.credential_name, needs_ca=tls.mode != TLS.SIMPLE)
                    if lacking:
                        out.diagnostics.append(
                            bound.diagnostic(Severity.ERROR, "tls.credentialName", f"{lacking}; server ignored")
                        )
                        continue
            by_port.setdefault(bound.port, []).append(bound)
    return by_port


def _one_address(port: int, servers: list[BoundServer], out: GatewayOutput) -> list[BoundServer]:
    """A port listens on one address: the lowest; servers binding another are errors."""
    address = min(s.address for s in servers)
    for other in sorted({s.address for s in servers} - {address}):
        first = next(s for s in servers if s.address == other)
        out.diagnostics.append(
            first.diagnostic(Severity.ERROR, "bind", f"port {port} is already bound on {address}; server ignored")
        )
    return [s for s in servers if s.address == address]


_FAMILY = {"http": "plaintext HTTP servers", "tcp": "one TCP server", "tls": "HTTPS and TLS servers (by SNI)"}


def _merge(port: int, servers: list[BoundServer], out: GatewayOutput) -> list[BoundServer]:
    """istiod's mergeGateways for one port: the servers that can share it with the first one."""
    first = servers[0]
    kept = [first]
    hosts: dict[str, BoundServer] = {}
    routes: dict[str, BoundServer] = {}

    def claim(s: BoundServer) -> tuple[str, BoundServer] | None:
        """Why a TLS server cannot join (a host or route name already taken, and whose), else None."""
        name = _https_route_name(s) if s.kind is ServerKind.HTTPS else ""
        if name in routes:
            owner = routes[name]
            return f"route configuration {name} is already {owner.describe()}'s (use another port name)", owner
        taken = [h for h in s.sni_hosts if h in hosts]
        if taken:
            owner = hosts[taken[0]]
            return f"host {', '.join(taken)} on port {port} is already served by {owner.describe()}", owner
        hosts.update(dict.fromkeys(s.sni_hosts, s))
        if name:
            routes[name] = s
        return None

    if first.kind.family == "tls":
        claim(first)
    for s in servers[1:]:
        reason: tuple[str, BoundServer] | None = None
        if s.kind.family != first.kind.family or first.kind is ServerKind.TCP:
            article = "an" if s.kind.value.startswith("H") else "a"
            reason = (
                f"port {port} takes {_FAMILY[first.kind.family]} (first: {first.describe()}); "
                f"{article} {s.kind.value} server cannot join",
                first,
            )
        elif s.kind.family == "tls":
            reason = claim(s)
        if reason is None:
            kept.append(s)
            continue
        message, owner = reason
        out.diagnostics.append(
            s.diagnostic(
                Severity.ERROR,
                "",
                f"{message}; server ignored",
                conflict=(owner.describe(), s.describe()),
            )
        )
    return kept


def _https_route_name(s: BoundServer) -> str:
    return naming.gateway_https_route(s.port, s.server.port.name, s.gateway.name, s.gateway.namespace)


def translate_gateway(ctx: MeshContext, proxy: Proxy, builder: RouteBuilder) -> GatewayOutput:
    out = GatewayOutput([], [], [])
    vses = ctx.virtual_services(proxy.namespace)
    for port, servers in sorted(_collect(ctx, proxy, out).items()):
        servers = _merge(port, _one_address(port, servers, out), out)
        address = servers[0].address
        family = servers[0].kind.family
        if family == "http":
            rc_http = _route_config(builder, naming.gateway_route(port), port, servers, vses)
            chain = lc.FilterChain(filters=[_hcm(naming.http_stat_prefix(address, port), rc_http.name)])
            out.listeners.append(_listener(address, port, [chain], (str(s.gateway.key) for s in servers)))
            out.routes.append(rc_http)
        elif family == "tcp":
            server = servers[0]
            l4, diags = tcp_chain(builder, server, vses)
            out.diagnostics.extend(diags)
            if l4 is None:
                out.diagnostics.append(_no_routes(server, "tcp"))
                continue
            out.listeners.append(_listener(address, port, [_l4_chain(l4)], [str(server.gateway.key), *l4.sources]))
        else:
            _tls_listener(builder, address, port, servers, vses, out)
    return out


def _no_routes(server: BoundServer, kind: str) -> Diagnostic:
    return server.diagnostic(
        Severity.WARNING,
        "",
        f"no VirtualService bound to this {server.kind.value} server has a {kind} route for port "
        f"{server.port}; the server gets no filter chain",
    )


def _tls_listener(
    builder: RouteBuilder,
    address: str,
    port: int,
    servers: list[BoundServer],
    vses: Sequence[ConfigObject],
    out: GatewayOutput,
) -> None:
    chains: list[lc.FilterChain] = []
    sources = {str(s.gateway.key) for s in servers}
    # SNI values routed on this listener (each at most once, or Envoy refuses the listener);
    # terminating servers claim their hosts first, passthrough routes get the rest.
    claimed: dict[str, str] = {}
    for s in servers:
        if s.kind is not ServerKind.PASSTHROUGH:
            claimed.update(dict.fromkeys(match_key(s.sni_hosts), s.describe()))
    for s in servers:
        if s.kind is ServerKind.HTTPS:
            rc_https = _route_config(builder, _https_route_name(s), port, [s], vses)
            out.routes.append(rc_https)
            stat_prefix = s.server.name or naming.http_stat_prefix(address, port)
            hcm = _hcm(stat_prefix, rc_https.name, tls=True)
            chains.append(_tls_chain(s, [hcm], s.sni_hosts, [str(s.gateway.key)]))
        elif s.kind is ServerKind.TLS_TERMINATE:
            l4, diags = tcp_chain(builder, s, vses, s.sni_hosts)
            out.diagnostics.extend(diags)
            if l4 is None:
                out.diagnostics.append(_no_routes(s, "tcp"))
                continue
            chains.append(_l4_chain(l4, s))
            sources.update(l4.sources)
        else:
            l4s, diags = passthrough_chains(builder, s, vses, claimed)
            out.diagnostics.extend(diags)
            if not l4s and not diags:
                out.diagnostics.append(_no_routes(s, "tls"))
            for l4 in l4s:
                chains.append(_l4_chain(l4))
                sources.update(l4.sources)
    if chains:
        out.listeners.append(_listener(address, port, chains, sources, inspect_tls=_needs_inspector(chains)))


def _needs_inspector(chains: Iterable[lc.FilterChain]) -> bool:
    """istiod adds a tls_inspector when a chain matches SNI or terminates TLS (ALPN)."""
    return any(c.filter_chain_match.server_names or c.HasField("transport_socket") for c in chains)


# ---------------------------------------------------------------------------- HTTP routes


def _route_config(
    builder: RouteBuilder,
    name: str,
    port: int,
    servers: list[BoundServer],
    vses: Sequence[ConfigObject],
) -> route_pb2.RouteConfiguration:
    vhosts: dict[str, list[rc.Route]] = {}
    owners: dict[str, list[str]] = {}
    redirect: set[str] = set()
    seen: set[tuple[str, str]] = set()
    refs = {s.gateway_ref for s in servers}
    for vs in vses:
        spec = vs.spec
        assert isinstance(spec, virtual_service_pb2.VirtualService)
        bound_refs = dict.fromkeys(r for r in (qualify_gateway(g, vs.namespace) for g in spec.gateways) if r in refs)
        # Hostnames are case-insensitive; a short name means the VirtualService's namespace.
        vs_hosts = dict.fromkeys(resolve_short_name(h.lower(), vs.namespace) for h in spec.hosts)
        for ref in bound_refs:
            gateway_servers = [s for s in servers if s.gateway_ref == ref]
            for vs_host in vs_hosts:
                for s in gateway_servers:
                    for server_host in s.server.hosts:
                        host = server_host_admits(server_host, s.gateway.namespace, vs, vs_host)
                        if host is None:
                            continue
                        if s.https_redirect:
                            redirect.add(host)
                        if (str(vs.key), host) in seen:
                            continue
                        seen.add((str(vs.key), host))
                        routes = []
                        for i, http in enumerate(spec.http):
                            routes.extend(builder.http_routes(vs, i, http, port=port, gateway=ref))
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
    # istiod: every host of an httpsRedirect server redirects, even without routes.
    for s in servers:
        if s.https_redirect:
            for host in s.sni_hosts:
                redirect.add(host)
                if host not in vhosts:
                    vhosts[host] = []
                    owners[host] = [str(s.gateway.key)]
    rc_out = route_pb2.RouteConfiguration(name=name, validate_clusters={"value": False})
    for host in sorted(vhosts):
        vh = rc_out.virtual_hosts.add(
            name=naming.virtual_host(host, port),
            domains=_domains(host, port),
            routes=vhosts[host],
            metadata=attribution(owners[host]),
        )
        if host in redirect:
            vh.require_tls = rc.VirtualHost.ALL
    rc_out.metadata.CopyFrom(attribution(str(s.gateway.key) for s in servers))
    return rc_out


def _domains(host: str, port: int) -> list[str]:
    # Envoy allows one wildcard per domain: `*.example.com:*` would never match, so a
    # wildcard host gets the listener port, as istiod does.
    if host == "*":
        return [host]
    if host.startswith("*"):
        return [host, f"{host}:{port}"]
    return [host, f"{host}:*"]
