"""Validation of Istio's Sidecar resource (pkg/config/validation: ValidateSidecar)."""

from __future__ import annotations

import ipaddress
import re

from meshpilot.api.kube.v1 import secret_pb2
from meshpilot.api.networking.v1 import sidecar_pb2
from meshpilot.model.decode import FieldError
from meshpilot.model.validate import PROTOCOLS, check_fqdn, check_labels, check_port

_NS = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def _check_bind(bind: str, path: str, errors: list[FieldError], *, unix_ok: bool) -> None:
    if not bind:
        return
    if bind.startswith("unix://"):
        if not unix_ok:
            errors.append(FieldError(path, "unix domain sockets are not allowed here"))
        return
    try:
        ipaddress.ip_address(bind)
    except ValueError:
        errors.append(FieldError(path, f"expected an IP address or unix:// path, got {bind!r}"))


def _check_port(port: sidecar_pb2.SidecarPort, path: str, errors: list[FieldError]) -> None:
    check_port(port.number, f"{path}.number", errors)
    if port.protocol and port.protocol.upper() not in PROTOCOLS:
        errors.append(FieldError(f"{path}.protocol", f"unknown protocol {port.protocol!r}"))
    if port.target_port:
        check_port(port.target_port, f"{path}.targetPort", errors)


def check_egress_host(host: str, path: str, errors: list[FieldError]) -> None:
    """`namespace/dnsName`: namespace `*`, `.`, `~` or a name; dnsName `*`, `*.x` or a FQDN."""
    ns, sep, name = host.partition("/")
    if not sep:
        errors.append(FieldError(path, f"expected namespace/host (e.g. ./*, */*, istio-system/*), got {host!r}"))
        return
    if ns not in ("*", ".", "~") and not _NS.match(ns):
        errors.append(FieldError(path, f"invalid namespace {ns!r} in {host!r}"))
    check_fqdn(name, path, errors)


def secret_value(spec: secret_pb2.Secret, key: str) -> bytes:
    """A Secret's value: stringData wins over data, as the Kubernetes API server merges them."""
    if key in spec.string_data:
        return spec.string_data[key].encode()
    return spec.data.get(key, b"")


def validate_secret(spec: secret_pb2.Secret) -> list[FieldError]:
    errors: list[FieldError] = []
    if spec.type == "kubernetes.io/tls":
        for key in ("tls.crt", "tls.key"):
            if not secret_value(spec, key):
                errors.append(FieldError(f"data.{key}", "required for a secret of type kubernetes.io/tls"))
    for key in ("tls.crt", "ca.crt"):
        value = secret_value(spec, key)
        if value and b"-----BEGIN CERTIFICATE-----" not in value:
            errors.append(FieldError(f"data.{key}", "expected a PEM certificate (-----BEGIN CERTIFICATE-----)"))
    pem_key = secret_value(spec, "tls.key")
    if pem_key and b"PRIVATE KEY-----" not in pem_key:
        errors.append(FieldError("data.tls.key", "expected a PEM private key"))
    return errors


def validate_sidecar(spec: sidecar_pb2.Sidecar) -> list[FieldError]:
    errors: list[FieldError] = []
    check_labels(spec.workload_selector.labels.items(), "spec.workloadSelector.labels", errors)
    ingress_ports: dict[int, int] = {}
    for i, ing in enumerate(spec.ingress):
        p = f"spec.ingress[{i}]"
        if not ing.HasField("port"):
            errors.append(FieldError(f"{p}.port", "required"))
        else:
            _check_port(ing.port, f"{p}.port", errors)
            if ing.port.number in ingress_ports:
                errors.append(
                    FieldError(
                        f"{p}.port.number",
                        f"port {ing.port.number} is already used by spec.ingress[{ingress_ports[ing.port.number]}]",
                    )
                )
            ingress_ports.setdefault(ing.port.number, i)
        _check_bind(ing.bind, f"{p}.bind", errors, unix_ok=False)
        ep = ing.default_endpoint
        if ep and not ep.startswith("unix://"):
            host, sep, port = ep.rpartition(":")
            try:
                ipaddress.ip_address(host.strip("[]"))
                ok = bool(sep) and port.isdigit() and 1 <= int(port) <= 65535
            except ValueError:
                ok = False
            if not ok:
                errors.append(FieldError(f"{p}.defaultEndpoint", f"expected IP:PORT or unix:///path, got {ep!r}"))
    seen: dict[tuple[str, int], int] = {}
    for i, eg in enumerate(spec.egress):
        p = f"spec.egress[{i}]"
        if eg.HasField("port"):
            _check_port(eg.port, f"{p}.port", errors)
        elif i != len(spec.egress) - 1:
            errors.append(FieldError(f"{p}.port", "only the last egress listener may omit the port (catch-all)"))
        _check_bind(eg.bind, f"{p}.bind", errors, unix_ok=True)
        key = (eg.bind, eg.port.number)
        if key in seen:
            errors.append(
                FieldError(p, f"bind {eg.bind or '(default)'} port {eg.port.number} repeats spec.egress[{seen[key]}]")
            )
        seen.setdefault(key, i)
        if not eg.hosts:
            errors.append(FieldError(f"{p}.hosts", "at least one host is required (e.g. ./*)"))
        for j, host in enumerate(eg.hosts):
            check_egress_host(host, f"{p}.hosts[{j}]", errors)
    return errors
