"""Service registry: services from Kubernetes Services and ServiceEntries, endpoints from
WorkloadEntries (selected by the service's selector) and ServiceEntry inline endpoints.

Hostnames follow Istio: a Kubernetes Service `reviews` in `default` is
`reviews.default.svc.cluster.local`; a ServiceEntry contributes each of its `hosts`.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Mapping

from meshpilot.api.kube.v1 import service_pb2
from meshpilot.api.networking.v1 import service_entry_pb2, workload_entry_pb2
from meshpilot.model.diagnostics import Diagnostic, Severity
from meshpilot.model.objects import ConfigKey
from meshpilot.model.store import ConfigStore

DOMAIN_SUFFIX = "cluster.local"


@dataclasses.dataclass(frozen=True)
class ServicePort:
    name: str
    number: int
    protocol: str  # Istio protocol, upper case: HTTP, HTTP2, GRPC, TCP, ...
    target_port: int | str | None = None


@dataclasses.dataclass(frozen=True)
class Endpoint:
    address: str
    port: int
    labels: Mapping[str, str]
    weight: int = 0
    locality: str = ""
    source: ConfigKey | None = None


@dataclasses.dataclass(frozen=True)
class Service:
    hostname: str
    namespace: str
    ports: tuple[ServicePort, ...]
    resolution: str  # "EDS" (static endpoints), "DNS", "DNS_ROUND_ROBIN", "NONE"
    mesh_external: bool
    source: ConfigKey
    # Endpoints per service port number.
    endpoints: Mapping[int, tuple[Endpoint, ...]]
    export_to: tuple[str, ...] = ()  # Istio exportTo: "*" (default), ".", namespaces, "~"
    addresses: tuple[str, ...] = ()  # VIPs: Kubernetes clusterIP, ServiceEntry addresses
    selector: Mapping[str, str] | None = None  # workloads it selects (for sidecars' inbound)

    def exported_to(self, namespace: str) -> bool:
        return is_exported(self.export_to, self.namespace, namespace)

    def port(self, number: int) -> ServicePort | None:
        return next((p for p in self.ports if p.number == number), None)


def is_exported(export_to: tuple[str, ...] | list[str], owner_ns: str, to_ns: str) -> bool:
    """Istio's exportTo: empty or `*` = every namespace, `.` = its own, `~` = none, or names."""
    if not export_to:
        return True
    return any(e == "*" or (e == "." and owner_ns == to_ns) or e == to_ns for e in export_to)


def kube_hostname(name: str, namespace: str) -> str:
    return f"{name}.{namespace}.svc.{DOMAIN_SUFFIX}"


def resolve_short_name(host: str, namespace: str) -> str:
    """Istio's short-name rule: a host without a dot is `<host>.<namespace>.svc.cluster.local`."""
    if "." in host or host == "*":
        return host
    return kube_hostname(host, namespace)


def _protocol_from_name(name: str, app_protocol: str = "") -> str:
    """Istio protocol selection: appProtocol, else the port-name prefix (`http-web` -> HTTP)."""
    candidates = (app_protocol, name.split("-", 1)[0])
    aliases = {
        "http": "HTTP",
        "http2": "HTTP2",
        "grpc": "GRPC",
        "grpc-web": "GRPC-WEB",
        "h2c": "HTTP2",
        "https": "HTTPS",
        "tls": "TLS",
        "tcp": "TCP",
        "mongo": "MONGO",
        "redis": "REDIS",
        "mysql": "MYSQL",
        "udp": "UDP",
    }
    for c in candidates:
        if c and c.lower() in aliases:
            return aliases[c.lower()]
    return "TCP"


def _selected(labels: Mapping[str, str], selector: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def _endpoint_port(port: ServicePort, ports: Mapping[str, int]) -> int | None:
    if port.name and port.name in ports:
        return ports[port.name]
    if isinstance(port.target_port, str):
        return ports.get(port.target_port)
    return port.target_port or port.number


def _endpoints_for(
    ports: tuple[ServicePort, ...],
    entries: list[tuple[workload_entry_pb2.WorkloadEntry, ConfigKey | None]],
) -> dict[int, tuple[Endpoint, ...]]:
    out: dict[int, tuple[Endpoint, ...]] = {}
    for sp in ports:
        eps = []
        for we, key in entries:
            number = _endpoint_port(sp, we.ports)
            if number is None:
                continue
            eps.append(Endpoint(we.address, number, dict(we.labels), we.weight, we.locality, key))
        out[sp.number] = tuple(sorted(eps, key=lambda e: (e.address, e.port)))
    return out


@dataclasses.dataclass(frozen=True)
class ServiceRegistry:
    services: Mapping[str, Service]
    diagnostics: tuple[Diagnostic, ...]

    def get(self, hostname: str) -> Service | None:
        return self.services.get(hostname)


class _WorkloadIndex:
    """WorkloadEntries by namespace and label, so selecting costs O(matches), not O(workloads)."""

    def __init__(self, store: ConfigStore) -> None:
        self._by_label: dict[tuple[str, str, str], list[int]] = {}
        self._entries: list[tuple[workload_entry_pb2.WorkloadEntry, ConfigKey]] = []
        for o in store.of_kind("WorkloadEntry"):
            assert isinstance(o.spec, workload_entry_pb2.WorkloadEntry)
            idx = len(self._entries)
            self._entries.append((o.spec, o.key))
            for k, v in o.spec.labels.items():
                self._by_label.setdefault((o.namespace, k, v), []).append(idx)

    def select(
        self, namespace: str, selector: Mapping[str, str]
    ) -> list[tuple[workload_entry_pb2.WorkloadEntry, ConfigKey | None]]:
        postings = [self._by_label.get((namespace, k, v), []) for k, v in selector.items()]
        if not postings:
            return []
        postings.sort(key=len)
        candidates = postings[0]
        out: list[tuple[workload_entry_pb2.WorkloadEntry, ConfigKey | None]] = []
        for i in candidates:
            we, key = self._entries[i]
            if _selected(we.labels, selector):
                out.append((we, key))
        return out


def _is_ip(address: str) -> bool:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return address.startswith("unix://")
    return True


def _only_ip_endpoints(svc: Service, diagnostics: list[Diagnostic]) -> Service:
    """EDS needs IP (or unix://) endpoints; a DNS name there would make Envoy reject the update."""
    if svc.resolution not in ("EDS", "NONE"):
        return svc
    kept: dict[int, tuple[Endpoint, ...]] = {}
    for port, eps in svc.endpoints.items():
        good = tuple(e for e in eps if _is_ip(e.address))
        for e in eps:
            if not _is_ip(e.address):
                diagnostics.append(
                    Diagnostic(
                        Severity.WARNING,
                        str(e.source or svc.source),
                        "spec.address",
                        f"address {e.address} is not an IP address; endpoint of {svc.hostname} ignored "
                        "(a ServiceEntry with resolution DNS resolves names)",
                    )
                )
        kept[port] = good
    return dataclasses.replace(svc, endpoints=kept)


def build_registry(store: ConfigStore) -> ServiceRegistry:
    diagnostics: list[Diagnostic] = []
    services: dict[str, Service] = {}
    workloads = _WorkloadIndex(store)

    def add(svc: Service) -> None:
        svc = _only_ip_endpoints(svc, diagnostics)
        existing = services.get(svc.hostname)
        if existing is not None:
            diagnostics.append(
                Diagnostic(
                    Severity.WARNING,
                    str(svc.source),
                    "",
                    f"host {svc.hostname} is already defined by {existing.source}, which wins "
                    "(Kubernetes Services before ServiceEntries, then namespace/name order); "
                    "this definition is ignored",
                    conflict=(str(existing.source), str(svc.source)),
                )
            )
            return
        services[svc.hostname] = svc

    for obj in store.of_kind("Service"):
        spec = obj.spec
        assert isinstance(spec, service_pb2.Service)
        ports = tuple(
            ServicePort(
                name=p.name,
                number=p.port,
                protocol=_protocol_from_name(p.name, p.app_protocol),
                target_port=(
                    p.target_port.int_val
                    if p.target_port.WhichOneof("value") == "int_val"
                    else p.target_port.str_val or None
                ),
            )
            for p in spec.ports
        )
        selected = workloads.select(obj.namespace, spec.selector) if spec.selector else []
        add(
            Service(
                hostname=kube_hostname(obj.name, obj.namespace),
                namespace=obj.namespace,
                ports=ports,
                resolution="EDS",
                mesh_external=False,
                source=obj.key,
                endpoints=_endpoints_for(ports, selected),
                export_to=tuple(
                    e.strip() for e in obj.annotations.get("networking.istio.io/exportTo", "").split(",") if e.strip()
                ),
                addresses=tuple(a for a in [spec.cluster_ip, *spec.cluster_ips] if a and a != "None"),
                selector=dict(spec.selector) if spec.selector else None,
            )
        )

    SE = service_entry_pb2.ServiceEntry
    for obj in store.of_kind("ServiceEntry"):
        se = obj.spec
        assert isinstance(se, SE)
        ports = tuple(
            ServicePort(p.name, p.number, (p.protocol or "TCP").upper(), p.target_port or None) for p in se.ports
        )
        entries: list[tuple[workload_entry_pb2.WorkloadEntry, ConfigKey | None]]
        if se.HasField("workload_selector"):
            entries = workloads.select(obj.namespace, se.workload_selector.labels)
        else:
            entries = [(we, None) for we in se.endpoints]
        resolution = {SE.DNS: "DNS", SE.DNS_ROUND_ROBIN: "DNS_ROUND_ROBIN", SE.NONE: "NONE"}.get(se.resolution, "EDS")
        for host in se.hosts:
            add(
                Service(
                    hostname=resolve_short_name(host, obj.namespace),
                    namespace=obj.namespace,
                    ports=ports,
                    resolution=resolution,
                    mesh_external=se.location == SE.MESH_EXTERNAL,
                    source=obj.key,
                    endpoints=_endpoints_for(ports, entries),
                    export_to=tuple(se.export_to),
                    addresses=tuple(se.addresses),
                    selector=dict(se.workload_selector.labels) if se.HasField("workload_selector") else None,
                )
            )
    return ServiceRegistry(dict(sorted(services.items())), tuple(diagnostics))
