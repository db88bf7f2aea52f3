"""What one proxy sees: its Sidecar resource, and the services visible to it.

Istio's rules: a Sidecar in the proxy's namespace whose workloadSelector matches the proxy's
labels wins; else the namespace's Sidecar without selector; else the root namespace's
(`istio-system`) Sidecar without selector. Services are visible when exported to the proxy's
namespace (`exportTo`) and, with a Sidecar, matched by some egress listener's `hosts`
(`namespace/dnsName`: `*` any namespace, `.` the proxy's, `~` none).
"""

from __future__ import annotations

import dataclasses

from meshpilot.api.networking.v1 import sidecar_pb2
from meshpilot.model.diagnostics import Diagnostic, Severity
from meshpilot.model.objects import ConfigObject
from meshpilot.model.proxy import SIDECAR, Proxy
from meshpilot.model.registry import Service
from meshpilot.translator.context import MeshContext

ROOT_NAMESPACE = "istio-system"


def host_pattern_matches(pattern: str, host: str) -> bool:
    if pattern == "*":
        return True
    if pattern.startswith("*."):
        return host.endswith(pattern[1:])
    return pattern.lower() == host.lower()


def egress_host_matches(egress_host: str, svc: Service, proxy_ns: str) -> bool:
    ns, _, pattern = egress_host.partition("/")
    if ns == "~":
        return False
    if ns == "." and svc.namespace != proxy_ns:
        return False
    if ns not in ("*", ".") and svc.namespace != ns:
        return False
    return host_pattern_matches(pattern, svc.hostname)


@dataclasses.dataclass(frozen=True)
class ProxyScope:
    sidecar: ConfigObject | None
    services: tuple[Service, ...]
    diagnostics: tuple[Diagnostic, ...]

    @property
    def spec(self) -> sidecar_pb2.Sidecar:
        if self.sidecar is None:
            return sidecar_pb2.Sidecar()
        assert isinstance(self.sidecar.spec, sidecar_pb2.Sidecar)
        return self.sidecar.spec


def select_sidecar(ctx: MeshContext, proxy: Proxy) -> tuple[ConfigObject | None, list[Diagnostic]]:
    diags: list[Diagnostic] = []
    sidecars = ctx.store.of_kind("Sidecar")

    def spec(o: ConfigObject) -> sidecar_pb2.Sidecar:
        assert isinstance(o.spec, sidecar_pb2.Sidecar)
        return o.spec

    selecting = [
        o
        for o in sidecars
        if o.namespace == proxy.namespace
        and spec(o).workload_selector.labels
        and all(proxy.labels.get(k) == v for k, v in spec(o).workload_selector.labels.items())
    ]
    for tier in (
        selecting,
        [o for o in sidecars if o.namespace == proxy.namespace and not spec(o).workload_selector.labels],
        [o for o in sidecars if o.namespace == ROOT_NAMESPACE and not spec(o).workload_selector.labels],
    ):
        if tier:
            if len(tier) > 1:
                diags.append(
                    Diagnostic(
                        Severity.WARNING,
                        str(tier[1].key),
                        "spec.workloadSelector",
                        f"several Sidecars apply to proxy {proxy.node_id}; {tier[0].key} wins (namespace/name order)",
                        str(tier[1].source),
                        conflict=tuple(str(o.key) for o in tier),
                    )
                )
            return tier[0], diags
    return None, diags


def build_scope(ctx: MeshContext, proxy: Proxy) -> ProxyScope:
    # Sidecar resources configure sidecars only; gateways see every exported service (istiod).
    sidecar, diags = select_sidecar(ctx, proxy) if proxy.type == SIDECAR else (None, [])
    services = [s for s in ctx.registry.services.values() if s.exported_to(proxy.namespace)]
    if sidecar is not None:
        assert isinstance(sidecar.spec, sidecar_pb2.Sidecar)
        if sidecar.spec.egress:
            hosts = [h for eg in sidecar.spec.egress for h in eg.hosts]
            services = [s for s in services if any(egress_host_matches(h, s, proxy.namespace) for h in hosts)]
    return ProxyScope(sidecar, tuple(services), tuple(diags))
