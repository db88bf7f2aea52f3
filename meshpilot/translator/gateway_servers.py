"""Gateway servers: which Gateways apply to a proxy, what each server becomes, which hosts it admits.

Istio's rules implemented here (pilot/pkg/model/gateway.go and pkg/config/gateway):
- a Gateway applies to a proxy when its `selector` labels are all on the proxy (empty = all);
- a server is plaintext HTTP (`HTTP`, `HTTP2`, `GRPC`, `GRPC-WEB`, with at most
  `tls.httpsRedirect`), an HTTPS server terminating TLS (`HTTPS` with mode SIMPLE, MUTUAL or
  OPTIONAL_MUTUAL), a TLS server terminating TLS in front of TCP routes (`TLS` with those
  modes), a passthrough server routing by SNI (`HTTPS`/`TLS` with mode PASSTHROUGH), or an
  opaque TCP server (`TCP`, and `MONGO`, `MYSQL`, `REDIS` without their protocol filters);
- a server host `ns/host` admits VirtualServices of namespace `ns` (`*` any, `.` the
  Gateway's); hosts overlap when equal or covered by a wildcard, and bind their intersection;
- a TLS server's SNI hosts are its hosts without the namespace part, lower-cased and sorted;
  `*` among them means "any SNI" (no `server_names` match).
"""

from __future__ import annotations

import dataclasses
import enum

from meshpilot.api.networking.v1 import gateway_pb2
from meshpilot.model.diagnostics import Diagnostic, Severity
from meshpilot.model.objects import ConfigObject
from meshpilot.model.proxy import Proxy
from meshpilot.translator.context import MeshContext

HTTP_PROTOCOLS = frozenset({"HTTP", "HTTP2", "GRPC", "GRPC-WEB"})
TLS_PROTOCOLS = frozenset({"HTTPS", "TLS"})
TCP_PROTOCOLS = frozenset({"TCP", "MONGO", "MYSQL", "REDIS"})
TLS = gateway_pb2.ServerTLSSettings
TERMINATING_MODES = frozenset({TLS.SIMPLE, TLS.MUTUAL, TLS.OPTIONAL_MUTUAL})


class ServerKind(enum.StrEnum):
    HTTP = "HTTP"  # plaintext HTTP: shares the port's `http.<port>` route configuration
    HTTPS = "HTTPS"  # terminates TLS, then HTTP with its own route configuration
    TLS_TERMINATE = "TLS"  # terminates TLS, then VirtualService tcp routes
    PASSTHROUGH = "PASSTHROUGH"  # routes the TLS stream by SNI (VirtualService tls routes)
    TCP = "TCP"  # opaque TCP: VirtualService tcp routes

    @property
    def family(self) -> str:
        """Servers of one family can share a port: `http`, `tcp` (one server) or `tls` (by SNI)."""
        if self is ServerKind.HTTP:
            return "http"
        if self is ServerKind.TCP:
            return "tcp"
        return "tls"


@dataclasses.dataclass(frozen=True)
class BoundServer:
    gateway: ConfigObject
    index: int
    server: gateway_pb2.Server
    kind: ServerKind

    @property
    def gateway_ref(self) -> str:
        return f"{self.gateway.namespace}/{self.gateway.name}"

    @property
    def path(self) -> str:
        return f"spec.servers[{self.index}]"

    @property
    def port(self) -> int:
        return self.server.port.number

    @property
    def address(self) -> str:
        return self.server.bind or "0.0.0.0"

    @property
    def https_redirect(self) -> bool:
        return self.kind is ServerKind.HTTP and self.server.tls.https_redirect

    @property
    def sni_hosts(self) -> tuple[str, ...]:
        return sni_hosts(self.server)

    def describe(self) -> str:
        return f"{self.gateway.key} {self.path}"

    def diagnostic(self, severity: Severity, field: str, message: str, **kw: tuple[str, ...]) -> Diagnostic:
        path = f"{self.path}.{field}" if field else self.path
        return Diagnostic(severity, str(self.gateway.key), path, message, str(self.gateway.source), **kw)


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


def server_host_admits(server_host: str, gateway_ns: str, vs: ConfigObject, vs_host: str) -> str | None:
    """The host a VirtualService host binds on a server host, or None (namespace or no overlap)."""
    ns, _, host = server_host.lower().rpartition("/")
    if ns and ns != "*" and (ns if ns != "." else gateway_ns) != vs.namespace:
        return None
    return more_specific(host, vs_host) if host_matches(host, vs_host) else None


def sni_hosts(server: gateway_pb2.Server) -> tuple[str, ...]:
    """istiod's GetSNIHostsForServer: the hosts without `ns/`, lower-cased, sorted, unique."""
    return tuple(sorted({h.rpartition("/")[2].lower() for h in server.hosts}))


def _unsupported_tls(b: BoundServer) -> Diagnostic | None:
    tls = b.server.tls
    if tls.mode == TLS.ISTIO_MUTUAL:
        return b.diagnostic(
            Severity.WARNING, "tls.mode", "ISTIO_MUTUAL needs the mesh CA, which is not supported yet; server ignored"
        )
    if tls.mode == TLS.AUTO_PASSTHROUGH:
        return b.diagnostic(
            Severity.WARNING,
            "tls.mode",
            "AUTO_PASSTHROUGH (SNI-DNAT to mesh clusters) is not supported yet; server ignored",
        )
    if tls.mode in TERMINATING_MODES and tls.credential_names:
        return b.diagnostic(
            Severity.WARNING,
            "tls.credentialNames",
            "several credentials per server are not supported yet (use credentialName); server ignored",
        )
    return None


def classify(gw: ConfigObject, index: int, server: gateway_pb2.Server) -> tuple[BoundServer | None, list[Diagnostic]]:
    """What a (validated) server becomes, or None with the reason it is ignored."""
    protocol = server.port.protocol.upper()
    diags: list[Diagnostic] = []
    if protocol in HTTP_PROTOCOLS:
        return BoundServer(gw, index, server, ServerKind.HTTP), diags
    if protocol in TCP_PROTOCOLS:
        b = BoundServer(gw, index, server, ServerKind.TCP)
        if protocol != "TCP":
            diags.append(
                b.diagnostic(
                    Severity.WARNING,
                    "port.protocol",
                    f"{protocol} is proxied as opaque TCP: its protocol filter is not supported yet",
                )
            )
        return b, diags
    if protocol in TLS_PROTOCOLS and server.HasField("tls"):
        mode = server.tls.mode
        if mode == TLS.PASSTHROUGH:
            kind = ServerKind.PASSTHROUGH
        elif protocol == "HTTPS":
            kind = ServerKind.HTTPS
        else:
            kind = ServerKind.TLS_TERMINATE
        b = BoundServer(gw, index, server, kind)
        unsupported = _unsupported_tls(b)
        if unsupported is not None:
            return None, [unsupported]
        if server.tls.https_redirect:
            diags.append(
                b.diagnostic(
                    Severity.WARNING, "tls.httpsRedirect", f"only applies to HTTP servers, not {protocol}; ignored"
                )
            )
        return b, diags
    placeholder = BoundServer(gw, index, server, ServerKind.TCP)
    return None, [
        placeholder.diagnostic(
            Severity.WARNING, "port.protocol", f"{protocol} servers are not supported on gateways; server ignored"
        )
    ]
