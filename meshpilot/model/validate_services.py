"""Validation of DestinationRules, ServiceEntries, WorkloadEntries and Kubernetes Services."""

from __future__ import annotations

import ipaddress
from typing import Any

from meshpilot.api.kube.v1 import service_pb2
from meshpilot.api.networking.v1 import (
    destination_rule_pb2,
    service_entry_pb2,
    workload_entry_pb2,
)
from meshpilot.model.decode import FieldError
from meshpilot.model.validate import (
    _DNS1123_LABEL,
    PROTOCOLS,
    Errors,
    _check_duration,
    check_fqdn,
    check_labels,
    check_port,
)

# ---------------------------------------------------------------------------- DestinationRule


def _check_traffic_policy(tp: Any, p: str, errors: Errors) -> None:
    """A TrafficPolicy or one of its portLevelSettings (same field names, no nested ports)."""
    if tp.HasField("tls"):
        t = tp.tls
        TLS = destination_rule_pb2.ClientTLSSettings
        if t.mode == TLS.MUTUAL and not t.credential_name:
            for field, json in (("client_certificate", "clientCertificate"), ("private_key", "privateKey")):
                if not getattr(t, field):
                    errors.append(FieldError(f"{p}.tls.{json}", "required when mode is MUTUAL"))
    if tp.HasField("outlier_detection"):
        od = tp.outlier_detection
        if not 0 <= od.max_ejection_percent <= 100:
            errors.append(FieldError(f"{p}.outlierDetection.maxEjectionPercent", "out of range [0, 100]"))
        if not 0 <= od.min_health_percent <= 100:
            errors.append(FieldError(f"{p}.outlierDetection.minHealthPercent", "out of range [0, 100]"))
        if od.HasField("interval"):
            _check_duration(od.interval, f"{p}.outlierDetection.interval", errors)
        if od.HasField("base_ejection_time"):
            _check_duration(od.base_ejection_time, f"{p}.outlierDetection.baseEjectionTime", errors)
    if tp.HasField("connection_pool"):
        cp = tp.connection_pool
        for name in ("max_connections",):
            if getattr(cp.tcp, name) < 0:
                errors.append(FieldError(f"{p}.connectionPool.tcp.maxConnections", "must not be negative"))
        if cp.tcp.HasField("connect_timeout"):
            _check_duration(cp.tcp.connect_timeout, f"{p}.connectionPool.tcp.connectTimeout", errors)
        for fname, json in (
            ("http1_max_pending_requests", "http1MaxPendingRequests"),
            ("http2_max_requests", "http2MaxRequests"),
            ("max_requests_per_connection", "maxRequestsPerConnection"),
            ("max_retries", "maxRetries"),
        ):
            if getattr(cp.http, fname) < 0:
                errors.append(FieldError(f"{p}.connectionPool.http.{json}", "must not be negative"))
    for i, pl in enumerate(getattr(tp, "port_level_settings", ())):
        if not pl.HasField("port"):
            errors.append(FieldError(f"{p}.portLevelSettings[{i}].port", "required"))
        else:
            check_port(pl.port.number, f"{p}.portLevelSettings[{i}].port.number", errors)
        _check_traffic_policy(pl, f"{p}.portLevelSettings[{i}]", errors)


def validate_destination_rule(spec: destination_rule_pb2.DestinationRule) -> Errors:
    errors: Errors = []
    if not spec.host:
        errors.append(FieldError("spec.host", "required"))
    else:
        check_fqdn(spec.host, "spec.host", errors)
    if spec.HasField("traffic_policy"):
        _check_traffic_policy(spec.traffic_policy, "spec.trafficPolicy", errors)
    seen: dict[str, int] = {}
    for i, subset in enumerate(spec.subsets):
        p = f"spec.subsets[{i}]"
        if not subset.name:
            errors.append(FieldError(f"{p}.name", "required"))
        elif not _DNS1123_LABEL.match(subset.name):
            errors.append(FieldError(f"{p}.name", f"invalid subset name {subset.name!r} (RFC 1123 label)"))
        elif subset.name in seen:
            errors.append(
                FieldError(
                    f"{p}.name",
                    f"duplicate subset name {subset.name!r} (also spec.subsets[{seen[subset.name]}])",
                )
            )
        seen.setdefault(subset.name, i)
        check_labels(subset.labels.items(), f"{p}.labels", errors)
        if subset.HasField("traffic_policy"):
            _check_traffic_policy(subset.traffic_policy, f"{p}.trafficPolicy", errors)
    return errors


# ---------------------------------------------------------------------------- ServiceEntry


def _check_workload_entry(we: workload_entry_pb2.WorkloadEntry, p: str, errors: Errors, *, hostname_ok: bool) -> None:
    if not we.address:
        errors.append(FieldError(f"{p}.address", "required"))
    elif not we.address.startswith("unix://"):
        try:
            ipaddress.ip_address(we.address)
        except ValueError:
            if hostname_ok:
                check_fqdn(we.address, f"{p}.address", errors, wildcard=False)
            else:
                errors.append(FieldError(f"{p}.address", f"expected an IP address, got {we.address!r}"))
    for name, port in we.ports.items():
        check_port(port, f"{p}.ports.{name}", errors)
    check_labels(we.labels.items(), f"{p}.labels", errors)


def validate_service_entry(spec: service_entry_pb2.ServiceEntry) -> Errors:
    errors: Errors = []
    SE = service_entry_pb2.ServiceEntry
    if not spec.hosts:
        errors.append(FieldError("spec.hosts", "at least one host is required"))
    for i, h in enumerate(spec.hosts):
        check_fqdn(h, f"spec.hosts[{i}]", errors)
    if not spec.ports:
        errors.append(FieldError("spec.ports", "at least one port is required"))
    numbers: dict[int, int] = {}
    names: dict[str, int] = {}
    for i, port in enumerate(spec.ports):
        p = f"spec.ports[{i}]"
        check_port(port.number, f"{p}.number", errors)
        if port.target_port:
            check_port(port.target_port, f"{p}.targetPort", errors)
        if port.protocol and port.protocol.upper() not in PROTOCOLS:
            errors.append(FieldError(f"{p}.protocol", f"unknown protocol {port.protocol!r}"))
        if port.number in numbers:
            errors.append(
                FieldError(
                    f"{p}.number",
                    f"duplicate port {port.number} (also spec.ports[{numbers[port.number]}])",
                )
            )
        numbers.setdefault(port.number, i)
        if not port.name:
            errors.append(FieldError(f"{p}.name", "required"))
        elif port.name in names:
            errors.append(FieldError(f"{p}.name", f"duplicate port name {port.name!r}"))
        names.setdefault(port.name, i)
    if spec.endpoints and spec.HasField("workload_selector"):
        errors.append(FieldError("spec", "only one of endpoints, workloadSelector may be set"))
    if spec.resolution == SE.STATIC and not spec.endpoints and not spec.HasField("workload_selector"):
        errors.append(FieldError("spec.endpoints", "required when resolution is STATIC (or set workloadSelector)"))
    dns = spec.resolution in (SE.DNS, SE.DNS_ROUND_ROBIN)
    if dns and not spec.endpoints:
        for i, h in enumerate(spec.hosts):
            if h.startswith("*"):
                errors.append(
                    FieldError(f"spec.hosts[{i}]", "a wildcard host cannot be resolved by DNS; add endpoints")
                )
    if spec.resolution == SE.DNS_ROUND_ROBIN and len(spec.endpoints) > 1:
        errors.append(FieldError("spec.endpoints", "resolution DNS_ROUND_ROBIN allows at most one endpoint (use DNS)"))
    for i, we in enumerate(spec.endpoints):
        _check_workload_entry(we, f"spec.endpoints[{i}]", errors, hostname_ok=dns)
    for i, addr in enumerate(spec.addresses):
        try:
            ipaddress.ip_network(addr, strict=False)
        except ValueError:
            errors.append(FieldError(f"spec.addresses[{i}]", f"invalid IP or CIDR {addr!r}"))
    return errors


def validate_workload_entry(spec: workload_entry_pb2.WorkloadEntry) -> Errors:
    errors: Errors = []
    _check_workload_entry(spec, "spec", errors, hostname_ok=True)
    return errors


def validate_service(spec: service_pb2.Service) -> Errors:
    errors: Errors = []
    check_labels(spec.selector.items(), "spec.selector", errors)
    if not spec.ports and spec.type != "ExternalName":
        errors.append(FieldError("spec.ports", "at least one port is required"))
    names: dict[str, int] = {}
    for i, port in enumerate(spec.ports):
        p = f"spec.ports[{i}]"
        check_port(port.port, f"{p}.port", errors)
        if port.target_port.WhichOneof("value") == "int_val":
            check_port(port.target_port.int_val, f"{p}.targetPort", errors)
        if port.protocol and port.protocol not in ("TCP", "UDP", "SCTP"):
            errors.append(FieldError(f"{p}.protocol", "expected one of TCP, UDP, SCTP"))
        if len(spec.ports) > 1 and not port.name:
            errors.append(FieldError(f"{p}.name", "required when a Service has several ports"))
        if port.name:
            if port.name in names:
                errors.append(FieldError(f"{p}.name", f"duplicate port name {port.name!r}"))
            names.setdefault(port.name, i)
    return errors
