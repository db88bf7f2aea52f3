"""The translator: PURE and deterministic. `translate(ctx, proxy)` -> Envoy resources + diagnostics.

No I/O, no logging, no clocks: same inputs give byte-identical outputs, sorted by name.
"""

from __future__ import annotations

import dataclasses

from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.endpoint.v3 import endpoint_pb2
from envoy.config.listener.v3 import listener_pb2
from envoy.config.route.v3 import route_pb2
from envoy.extensions.transport_sockets.tls.v3 import secret_pb2

from meshpilot.model.diagnostics import Diagnostic, Severity
from meshpilot.model.proxy import ROUTER, Proxy
from meshpilot.model.store import ConfigStore
from meshpilot.translator.clusters import ClusterMemo, aggregate_cluster, build_service_clusters
from meshpilot.translator.context import MeshContext, build_context
from meshpilot.translator.gateway import translate_gateway
from meshpilot.translator.routes import RouteBuilder
from meshpilot.translator.scope import build_scope
from meshpilot.translator.secrets import referenced_secrets, sds_secret
from meshpilot.translator.sidecar import translate_sidecar

__all__ = ["MeshContext", "Translation", "build_context", "translate"]


@dataclasses.dataclass(frozen=True)
class Translation:
    listeners: tuple[listener_pb2.Listener, ...]
    routes: tuple[route_pb2.RouteConfiguration, ...]
    clusters: tuple[cluster_pb2.Cluster, ...]
    endpoints: tuple[endpoint_pb2.ClusterLoadAssignment, ...]
    diagnostics: tuple[Diagnostic, ...]
    secrets: tuple[secret_pb2.Secret, ...] = ()


def translate(ctx: MeshContext, proxy: Proxy, memo: ClusterMemo | None = None) -> Translation:
    """`memo` (optional) reuses unchanged services' clusters across config revisions; the result
    is the same with or without it."""
    builder = RouteBuilder(ctx, proxy)
    diagnostics: list[Diagnostic] = list(ctx.diagnostics)
    scope = build_scope(ctx, proxy)
    extra_clusters: list[cluster_pb2.Cluster] = []
    if proxy.type == ROUTER:
        gw = translate_gateway(ctx, proxy, builder)
        listeners, routes = gw.listeners, gw.routes
        diagnostics.extend(gw.diagnostics)
    else:
        sc = translate_sidecar(ctx, proxy, scope, builder)
        listeners, routes, extra_clusters = sc.listeners, sc.routes, sc.clusters
        diagnostics.extend(sc.diagnostics)
    diagnostics.extend(builder.diagnostics)
    primaries = {children[0] for children, _ in builder.fallbacks.values()}
    cs = build_service_clusters(ctx, proxy, scope.services, primaries, memo)
    for c in extra_clusters:
        cs.clusters[c.name] = c
    diagnostics.extend(cs.diagnostics)
    for name, (children, sources) in builder.fallbacks.items():
        present = [c for c in children if c in cs.clusters]
        if len(present) < len(children):
            missing = ", ".join(c for c in children if c not in cs.clusters)
            diagnostics.append(
                Diagnostic(
                    Severity.WARNING,
                    ", ".join(sorted(sources)),
                    "",
                    f"fallback cluster {name} refers to missing clusters: {missing}",
                )
            )
        cs.clusters[name] = aggregate_cluster(name, children, sources)
    secrets = {
        name: s
        for lst in listeners
        for name in referenced_secrets(lst)
        if (s := sds_secret(ctx, proxy, name)) is not None
    }
    return Translation(
        secrets=tuple(s for _, s in sorted(secrets.items())),
        listeners=tuple(sorted(listeners, key=lambda r: r.name)),
        routes=tuple(sorted(routes, key=lambda r: r.name)),
        clusters=tuple(c for _, c in sorted(cs.clusters.items())),
        endpoints=tuple(e for _, e in sorted(cs.endpoints.items())),
        diagnostics=tuple(sorted(set(diagnostics))),
    )


def translate_store(store: ConfigStore, proxy: Proxy) -> Translation:
    return translate(build_context(store), proxy)
