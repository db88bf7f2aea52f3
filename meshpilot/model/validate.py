"""Semantic validation: what Istio's pkg/config/validation refuses or Envoy would reject.

Each validator takes a decoded spec and returns FieldErrors with paths relative to the
document (`spec.http[0]...`). Regexes are checked with RE2, the engine Envoy uses.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from typing import Any

import re2
from google.protobuf.message import Message

from meshpilot.api.kube.v1 import service_pb2
from meshpilot.api.networking.v1 import (
    common_pb2,
    destination_rule_pb2,
    gateway_pb2,
    service_entry_pb2,
    virtual_service_pb2,
    workload_entry_pb2,
)
from meshpilot.model.decode import FieldError

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_HOST_LABEL = re.compile(r"^[a-zA-Z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_HEADER_NAME = re.compile(r"^[a-z0-9!#$%&'*+\-.^_`|~:]+$")
# Istio's Gateway/ServiceEntry protocols (protocol.Parse is case-insensitive).
PROTOCOLS = {
    "HTTP",
    "HTTPS",
    "GRPC",
    "GRPC-WEB",
    "HTTP2",
    "MONGO",
    "MYSQL",
    "REDIS",
    "TCP",
    "TLS",
    "UDP",
}
_REDIRECT_CODES = {301, 302, 303, 307, 308}
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False

Errors = list[FieldError]


def check_regex(pattern: str, path: str, errors: Errors) -> None:
    if not pattern:
        errors.append(FieldError(path, "regex must not be empty"))
        return
    try:
        re2.compile(pattern, _RE2_OPTIONS)
    except re2.error as exc:
        detail = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        errors.append(FieldError(path, f"invalid RE2 regex {pattern!r}: {detail}"))


def check_name(name: str, path: str, errors: Errors) -> None:
    if not name:
        errors.append(FieldError(path, "required"))
    elif len(name) > 253 or not _DNS1123_SUBDOMAIN.match(name):
        errors.append(
            FieldError(
                path,
                f"invalid name {name!r}: expected lowercase letters, digits, '-' and '.', "
                "starting and ending with a letter or digit (RFC 1123)",
            )
        )


def check_labels(labels: Iterable[tuple[str, str]], path: str, errors: Errors) -> None:
    for k, v in labels:
        key = k.split("/")[-1]
        if not key or len(key) > 63 or not _HOST_LABEL.match(key.replace(".", "a")):
            errors.append(FieldError(f"{path}.{k}", f"invalid label key {k!r}"))
        if len(v) > 63 or not _LABEL_VALUE.match(v):
            errors.append(FieldError(f"{path}.{k}", f"invalid label value {v!r}"))


def check_port(number: int, path: str, errors: Errors) -> None:
    if not 1 <= number <= 65535:
        errors.append(FieldError(path, f"port {number} out of range [1, 65535]"))


def check_fqdn(host: str, path: str, errors: Errors, *, wildcard: bool = True) -> None:
    """A hostname, optionally with a leading `*.` or exactly `*`."""
    if host == "*" and wildcard:
        return
    name = host[2:] if wildcard and host.startswith("*.") else host
    if not name or len(name) > 255:
        errors.append(FieldError(path, f"invalid host {host!r}"))
        return
    for label in name.split("."):
        if not label or len(label) > 63 or not _HOST_LABEL.match(label):
            errors.append(
                FieldError(
                    path,
                    f"invalid host {host!r}: expected a DNS name, optionally starting with '*.'",
                )
            )
            return


def _check_string_match(m: common_pb2.StringMatch, path: str, errors: Errors) -> None:
    which = m.WhichOneof("match_type")
    if which is None:
        errors.append(FieldError(path, "expected one of exact, prefix, regex"))
    elif which == "regex":
        check_regex(m.regex, f"{path}.regex", errors)


def _check_duration(d: Message, path: str, errors: Errors, minimum_ms: int = 1) -> None:
    ms = d.seconds * 1000 + d.nanos // 1_000_000  # type: ignore[attr-defined]
    if ms < minimum_ms:
        errors.append(FieldError(path, f"duration must be at least {minimum_ms}ms"))


def _check_percent(p: virtual_service_pb2.Percent, path: str, errors: Errors) -> None:
    if not 0.0 <= p.value <= 100.0:
        errors.append(FieldError(f"{path}.value", f"percentage {p.value} out of range [0, 100]"))


# ---------------------------------------------------------------------------- Gateway

# The TLS 1.0-1.2 cipher suites a gateway server may name: istiod's ValidCipherSuites
# (pkg/config/security), OpenSSL names with their IANA names; Envoy (BoringSSL) takes both, and
# `[A|B]` groups of equal preference. TLS 1.3 suites are not configurable in Envoy.
CIPHER_SUITES = {
    "ECDHE-ECDSA-AES128-GCM-SHA256": "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256": "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384": "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384": "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305": "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "ECDHE-RSA-CHACHA20-POLY1305": "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "ECDHE-ECDSA-AES128-SHA": "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "ECDHE-RSA-AES128-SHA": "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "ECDHE-ECDSA-AES256-SHA": "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "ECDHE-RSA-AES256-SHA": "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "AES128-GCM-SHA256": "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "AES256-GCM-SHA384": "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "AES128-SHA": "TLS_RSA_WITH_AES_128_CBC_SHA",
    "AES256-SHA": "TLS_RSA_WITH_AES_256_CBC_SHA",
    "DES-CBC3-SHA": "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
}
_CIPHER_NAMES = frozenset(CIPHER_SUITES) | frozenset(CIPHER_SUITES.values())
_SERVER_TLS = gateway_pb2.ServerTLSSettings
_HTTP_SERVER_PROTOCOLS = {"HTTP", "HTTP2", "GRPC", "GRPC-WEB"}
_TERMINATING = (_SERVER_TLS.SIMPLE, _SERVER_TLS.MUTUAL, _SERVER_TLS.OPTIONAL_MUTUAL)
_SHA256_HEX = re.compile(r"^[0-9a-fA-F]{64}$")
_SHA256_BASE64 = re.compile(r"^[A-Za-z0-9+/]{43}=$")


def _check_cipher_suite(suite: str, path: str, errors: Errors) -> None:
    names = suite[1:-1].split("|") if suite.startswith("[") and suite.endswith("]") else [suite]
    for name in names:
        if name not in _CIPHER_NAMES:
            errors.append(
                FieldError(
                    path,
                    f"unknown cipher suite {name!r}; expected one of {', '.join(CIPHER_SUITES)} "
                    "(or their IANA names; TLS 1.3 suites cannot be configured)",
                )
            )
            return


def _check_server_tls(server: gateway_pb2.Server, proto: str, p: str, errors: Errors) -> None:
    """A server's `tls`, as istiod's validateServer/validateTLSOptions (p: the server's path)."""
    TLS, tls, t = _SERVER_TLS, server.tls, f"{p}.tls"
    if proto in _HTTP_SERVER_PROTOCOLS:
        if tls.mode not in (TLS.PASSTHROUGH, TLS.AUTO_PASSTHROUGH) or (
            tls.server_certificate or tls.private_key or tls.ca_certificates
        ):
            errors.append(
                FieldError(t, "a plaintext HTTP server only takes httpsRedirect; use protocol HTTPS to terminate TLS")
            )
        return
    if proto not in ("HTTPS", "TLS"):
        errors.append(FieldError(t, f"TLS settings need protocol HTTPS or TLS, not {proto}"))
        return
    mode = TLS.TLSmode.Name(tls.mode)
    files = (("server_certificate", "serverCertificate"), ("private_key", "privateKey"))
    if tls.mode == TLS.ISTIO_MUTUAL:
        for field, json in (
            *files,
            ("ca_certificates", "caCertificates"),
            ("credential_name", "credentialName"),
            ("credential_names", "credentialNames"),
        ):
            if getattr(tls, field):
                errors.append(FieldError(f"{t}.{json}", "must not be set when mode is ISTIO_MUTUAL"))
    elif tls.mode in _TERMINATING:
        given = [
            name
            for name, on in (
                ("credentialName", tls.credential_name),
                ("credentialNames", tls.credential_names),
                ("serverCertificate/privateKey", tls.server_certificate or tls.private_key),
            )
            if on
        ]
        if len(given) > 1:
            errors.append(
                FieldError(
                    t,
                    "only one of credentialName, credentialNames, serverCertificate/privateKey may be set "
                    f"(got {', '.join(given)})",
                )
            )
        secret = bool(tls.credential_name or tls.credential_names)
        if not secret:
            for field, json in files:
                if not getattr(tls, field):
                    errors.append(FieldError(f"{t}.{json}", f"required when mode is {mode} (or set credentialName)"))
            if tls.mode != TLS.SIMPLE and not tls.ca_certificates:
                errors.append(
                    FieldError(
                        f"{t}.caCertificates", f"required when mode is {mode}: the CA that signs client certificates"
                    )
                )
        if tls.ca_crl and tls.mode == TLS.SIMPLE:
            errors.append(FieldError(f"{t}.caCrl", "only applies when mode is MUTUAL or OPTIONAL_MUTUAL"))
        elif tls.ca_crl and secret:
            errors.append(FieldError(f"{t}.caCrl", "cannot be used with credentialName (the secret holds the CRL)"))
    lo, hi = tls.min_protocol_version, tls.max_protocol_version
    if lo and hi and lo > hi:
        errors.append(
            FieldError(
                f"{t}.minProtocolVersion",
                f"{TLS.TLSProtocol.Name(lo)} is above maxProtocolVersion {TLS.TLSProtocol.Name(hi)}",
            )
        )
    elif hi and not lo and hi < TLS.TLSV1_2:
        errors.append(
            FieldError(
                f"{t}.maxProtocolVersion",
                f"{TLS.TLSProtocol.Name(hi)} is below the default minProtocolVersion TLSV1_2; "
                "set minProtocolVersion too",
            )
        )
    for k, suite in enumerate(tls.cipher_suites):
        _check_cipher_suite(suite, f"{t}.cipherSuites[{k}]", errors)
    for k, h in enumerate(tls.verify_certificate_hash):
        if not _SHA256_HEX.match(h.replace(":", "")):
            errors.append(FieldError(f"{t}.verifyCertificateHash[{k}]", "expected a hex-encoded SHA-256 hash"))
    for k, spki in enumerate(tls.verify_certificate_spki):
        if not _SHA256_BASE64.match(spki):
            errors.append(FieldError(f"{t}.verifyCertificateSpki[{k}]", "expected a base64-encoded SHA-256 hash"))


def validate_gateway(spec: gateway_pb2.Gateway) -> Errors:
    errors: Errors = []
    check_labels(spec.selector.items(), "spec.selector", errors)
    if not spec.servers:
        errors.append(FieldError("spec.servers", "at least one server is required"))
    names: dict[str, int] = {}
    port_names: dict[str, int] = {}
    for i, server in enumerate(spec.servers):
        p = f"spec.servers[{i}]"
        if not server.HasField("port"):
            errors.append(FieldError(f"{p}.port", "required"))
        else:
            check_port(server.port.number, f"{p}.port.number", errors)
            proto = server.port.protocol.upper()
            if proto not in PROTOCOLS:
                errors.append(
                    FieldError(
                        f"{p}.port.protocol",
                        f"unknown protocol {server.port.protocol!r}; expected one of " + ", ".join(sorted(PROTOCOLS)),
                    )
                )
            if proto == "HTTPS" and not server.HasField("tls"):
                errors.append(FieldError(f"{p}.tls", "required for an HTTPS server"))
            elif proto == "TLS" and not server.HasField("tls"):
                errors.append(FieldError(f"{p}.tls", "required for a TLS server"))
            elif server.HasField("tls"):
                _check_server_tls(server, proto, p, errors)
            if proto == "HTTPS" and server.tls.mode in _TERMINATING and not server.port.name:
                errors.append(
                    FieldError(
                        f"{p}.port.name",
                        "required for an HTTPS server: it names the route configuration "
                        "https.<number>.<name>.<gateway>.<namespace>",
                    )
                )
            port_name = server.port.name
            if port_name in port_names:
                errors.append(
                    FieldError(
                        f"{p}.port.name",
                        f"duplicate port name {port_name!r} (also spec.servers[{port_names[port_name]}])",
                    )
                )
            if port_name:
                port_names.setdefault(port_name, i)
        if not server.hosts:
            errors.append(FieldError(f"{p}.hosts", "at least one host is required"))
        for j, host in enumerate(server.hosts):
            ns, _, h = host.rpartition("/")
            if ns and ns not in ("*", ".") and not _DNS1123_LABEL.match(ns):
                errors.append(FieldError(f"{p}.hosts[{j}]", f"invalid namespace {ns!r} in {host!r}"))
            check_fqdn(h, f"{p}.hosts[{j}]", errors)
        if server.bind and not server.bind.startswith("unix://"):
            try:
                ipaddress.ip_address(server.bind)
            except ValueError:
                errors.append(FieldError(f"{p}.bind", f"expected an IP address or unix:// path, got {server.bind!r}"))
        if server.name:
            if server.name in names:
                errors.append(
                    FieldError(
                        f"{p}.name",
                        f"duplicate server name {server.name!r} (also spec.servers[{names[server.name]}])",
                    )
                )
            names.setdefault(server.name, i)
    return errors


# ---------------------------------------------------------------------------- VirtualService


def _check_destination(d: virtual_service_pb2.Destination, path: str, errors: Errors, *, required: bool = True) -> None:
    if not d.host:
        if required:
            errors.append(FieldError(f"{path}.host", "required"))
    else:
        check_fqdn(d.host, f"{path}.host", errors, wildcard=False)
    if d.subset and not _DNS1123_LABEL.match(d.subset):
        errors.append(FieldError(f"{path}.subset", f"invalid subset name {d.subset!r}"))
    if d.HasField("port"):
        check_port(d.port.number, f"{path}.port.number", errors)


def _check_fallback(
    dest: virtual_service_pb2.RouteDestination | virtual_service_pb2.HTTPRouteDestination,
    path: str,
    errors: Errors,
) -> None:
    if not dest.HasField("fallback"):
        return
    fb = dest.fallback
    if not fb.HasField("target"):
        errors.append(FieldError(f"{path}.fallback.target", "required"))
        return
    _check_destination(fb.target, f"{path}.fallback.target", errors)
    t, d = fb.target, dest.destination
    if (t.host, t.subset, t.port.number) == (d.host, d.subset, d.port.number):
        errors.append(FieldError(f"{path}.fallback.target", "must differ from the destination it backs up"))


def _check_weights(dests: Iterable[Message], path: str, errors: Errors) -> None:
    dests = list(dests)
    total = 0
    for k, d in enumerate(dests):
        w = d.weight  # type: ignore[attr-defined]
        if w < 0:
            errors.append(FieldError(f"{path}[{k}].weight", f"weight {w} must not be negative"))
        total += max(w, 0)
    if len(dests) > 1 and total == 0:
        errors.append(FieldError(path, "the weights of several destinations must not all be zero"))


def _check_headers(h: virtual_service_pb2.Headers, path: str, errors: Errors) -> None:
    for side in ("request", "response"):
        ops = getattr(h, side)
        for op in ("set", "add", "remove"):
            for i, name in enumerate(getattr(ops, op)):
                where = f"{path}.{side}.{op}[{i}]" if op == "remove" else f"{path}.{side}.{op}.{name}"
                lower = name.lower()
                if not _HEADER_NAME.match(lower):
                    errors.append(FieldError(where, "invalid header name"))
                elif (lower == "host" or lower.startswith(":")) and not (
                    side == "request" and op == "set" and lower in ("host", ":authority")
                ):
                    errors.append(
                        FieldError(
                            where,
                            f"{name} cannot be modified (Envoy refuses it); "
                            "set request host or :authority, or use rewrite.authority",
                        )
                    )


def _check_match(m: virtual_service_pb2.HTTPMatchRequest, p: str, errors: Errors) -> None:
    for field in ("uri", "scheme", "method", "authority"):
        if m.HasField(field):
            _check_string_match(getattr(m, field), f"{p}.{field}", errors)
    for field in ("headers", "query_params", "without_headers"):
        json = {"query_params": "queryParams", "without_headers": "withoutHeaders"}.get(field, field)
        for name, sm in getattr(m, field).items():
            if field != "query_params" and name != name.lower():
                errors.append(FieldError(f"{p}.{json}.{name}", "header names must be lowercase"))
            _check_string_match(sm, f"{p}.{json}.{name}", errors)
    if m.port:
        check_port(m.port, f"{p}.port", errors)


def validate_virtual_service(spec: virtual_service_pb2.VirtualService) -> Errors:
    errors: Errors = []
    # A VirtualService without hosts is a delegate: other VirtualServices include its routes.
    if not spec.hosts and spec.gateways:
        errors.append(
            FieldError("spec.gateways", "a VirtualService without hosts is a delegate and cannot set gateways")
        )
    for i, host in enumerate(spec.hosts):
        check_fqdn(host, f"spec.hosts[{i}]", errors)
    for i, gw in enumerate(spec.gateways):
        ns, _, name = gw.rpartition("/")
        if gw != "mesh" and (not _DNS1123_SUBDOMAIN.match(name) or (ns and not _DNS1123_LABEL.match(ns))):
            errors.append(FieldError(f"spec.gateways[{i}]", f"invalid gateway reference {gw!r}"))
    if not (spec.http or spec.tcp or spec.tls):
        errors.append(FieldError("spec", "at least one of http, tcp or tls routes is required"))
    route_names: dict[str, int] = {}
    for i, route in enumerate(spec.http):
        p = f"spec.http[{i}]"
        if route.name:
            if route.name in route_names:
                errors.append(
                    FieldError(
                        f"{p}.name",
                        f"duplicate route name {route.name!r} (also spec.http[{route_names[route.name]}])",
                    )
                )
            route_names.setdefault(route.name, i)
        actions = [
            f
            for f in ("route", "redirect", "direct_response", "delegate")
            if (route.route if f == "route" else route.HasField(f))
        ]
        if len(actions) != 1:
            errors.append(
                FieldError(
                    p,
                    "exactly one of route, redirect, directResponse, delegate is required"
                    + (f" (got {', '.join(actions)})" if actions else ""),
                )
            )
        for j, m in enumerate(route.match):
            _check_match(m, f"{p}.match[{j}]", errors)
        if route.HasField("delegate") and not route.delegate.name:
            errors.append(FieldError(f"{p}.delegate.name", "required"))
        for j, dest in enumerate(route.route):
            dp = f"{p}.route[{j}]"
            if not dest.HasField("destination"):
                errors.append(FieldError(f"{dp}.destination", "required"))
            else:
                _check_destination(dest.destination, f"{dp}.destination", errors)
            _check_fallback(dest, dp, errors)
            if dest.HasField("headers"):
                _check_headers(dest.headers, f"{dp}.headers", errors)
        _check_weights(route.route, f"{p}.route", errors)
        if route.HasField("redirect"):
            code = route.redirect.redirect_code
            if code and code not in _REDIRECT_CODES:
                errors.append(
                    FieldError(
                        f"{p}.redirect.redirectCode",
                        f"redirect code {code} is not one of {sorted(_REDIRECT_CODES)}",
                    )
                )
        if route.HasField("direct_response"):
            status = route.direct_response.status
            if not 200 <= status <= 599:
                errors.append(
                    FieldError(
                        f"{p}.directResponse.status",
                        f"status {status} out of range [200, 599]",
                    )
                )
        if route.HasField("rewrite"):
            rw = route.rewrite
            if rw.uri and rw.HasField("uri_regex_rewrite"):
                errors.append(FieldError(f"{p}.rewrite", "only one of uri, uriRegexRewrite may be set"))
            if rw.HasField("uri_regex_rewrite"):
                check_regex(rw.uri_regex_rewrite.match, f"{p}.rewrite.uriRegexRewrite.match", errors)
        if route.HasField("timeout"):
            _check_duration(route.timeout, f"{p}.timeout", errors, minimum_ms=0)
        if route.HasField("retries"):
            r = route.retries
            if r.attempts < 0:
                errors.append(FieldError(f"{p}.retries.attempts", "must not be negative"))
            if r.HasField("per_try_timeout"):
                _check_duration(r.per_try_timeout, f"{p}.retries.perTryTimeout", errors)
        if route.HasField("headers"):
            _check_headers(route.headers, f"{p}.headers", errors)
        if route.HasField("mirror"):
            _check_destination(route.mirror, f"{p}.mirror", errors)
        for k, mirror in enumerate(route.mirrors):
            _check_destination(mirror.destination, f"{p}.mirrors[{k}].destination", errors)
            if mirror.HasField("percentage"):
                _check_percent(mirror.percentage, f"{p}.mirrors[{k}].percentage", errors)
        if route.HasField("mirror_percentage"):
            _check_percent(route.mirror_percentage, f"{p}.mirrorPercentage", errors)
        if route.HasField("fault"):
            f = route.fault
            if f.HasField("delay") and f.delay.HasField("percentage"):
                _check_percent(f.delay.percentage, f"{p}.fault.delay.percentage", errors)
            if f.HasField("abort") and f.abort.HasField("percentage"):
                _check_percent(f.abort.percentage, f"{p}.fault.abort.percentage", errors)
            abort_status = f.abort.http_status if f.abort.WhichOneof("error_type") == "http_status" else 200
            if not 200 <= abort_status <= 599:
                errors.append(FieldError(f"{p}.fault.abort.httpStatus", "status out of range [200, 599]"))
        if route.HasField("cors_policy"):
            for j, o in enumerate(route.cors_policy.allow_origins):
                _check_string_match(o, f"{p}.corsPolicy.allowOrigins[{j}]", errors)
    l4_routes: list[tuple[str, list[Any]]] = [("tcp", list(spec.tcp)), ("tls", list(spec.tls))]
    for kind, routes in l4_routes:
        for i, l4 in enumerate(routes):
            lp = f"spec.{kind}[{i}]"
            if not l4.route:
                errors.append(FieldError(f"{lp}.route", "at least one destination is required"))
            if kind == "tls" and not l4.match:
                errors.append(FieldError(f"{lp}.match", "at least one match with sniHosts is required"))
            for j, m in enumerate(l4.match):
                mp = f"{lp}.match[{j}]"
                if kind == "tls" and not m.sni_hosts:
                    errors.append(FieldError(f"{mp}.sniHosts", "at least one SNI host is required"))
                for k, sni in enumerate(getattr(m, "sni_hosts", ())):
                    sni_errors: Errors = []
                    check_fqdn(sni, f"{mp}.sniHosts[{k}]", sni_errors)
                    errors.extend(sni_errors)
                    lower = sni.lower()
                    covered = any(
                        h == "*" or h.lower() == lower or (h.startswith("*.") and lower.endswith(h[1:].lower()))
                        for h in spec.hosts
                    )
                    if not sni_errors and not covered:
                        errors.append(
                            FieldError(
                                f"{mp}.sniHosts[{k}]",
                                f"SNI host {sni!r} is not covered by spec.hosts ({', '.join(spec.hosts)})",
                            )
                        )
                for k, subnet in enumerate(m.destination_subnets):
                    try:
                        ipaddress.ip_network(subnet, strict=False)
                    except ValueError:
                        errors.append(FieldError(f"{mp}.destinationSubnets[{k}]", f"invalid IP or CIDR {subnet!r}"))
                if m.port:
                    check_port(m.port, f"{mp}.port", errors)
                check_labels(m.source_labels.items(), f"{mp}.sourceLabels", errors)
                for k, gw in enumerate(m.gateways):
                    ns, _, name = gw.rpartition("/")
                    if not _DNS1123_SUBDOMAIN.match(name) or (ns and not _DNS1123_LABEL.match(ns)):
                        errors.append(FieldError(f"{mp}.gateways[{k}]", f"invalid gateway reference {gw!r}"))
            for j, dest in enumerate(l4.route):
                dp = f"spec.{kind}[{i}].route[{j}]"
                if not dest.HasField("destination"):
                    errors.append(FieldError(f"{dp}.destination", "required"))
                else:
                    _check_destination(dest.destination, f"{dp}.destination", errors)
                _check_fallback(dest, dp, errors)
            _check_weights(l4.route, f"spec.{kind}[{i}].route", errors)
    return errors


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


VALIDATORS: dict[str, Callable[[Message], Errors]] = {
    "Gateway": validate_gateway,  # type: ignore[dict-item]
    "VirtualService": validate_virtual_service,  # type: ignore[dict-item]
    "DestinationRule": validate_destination_rule,  # type: ignore[dict-item]
    "ServiceEntry": validate_service_entry,  # type: ignore[dict-item]
    "WorkloadEntry": validate_workload_entry,  # type: ignore[dict-item]
    "Service": validate_service,  # type: ignore[dict-item]
}
