"""Validation of Gateways (servers, TLS settings, cipher suites), as Istio's pkg/config/validation."""

from __future__ import annotations

import ipaddress
import re

from meshpilot.api.networking.v1 import (
    gateway_pb2,
)
from meshpilot.model.decode import FieldError
from meshpilot.model.validate import (
    _DNS1123_LABEL,
    PROTOCOLS,
    Errors,
    check_fqdn,
    check_labels,
    check_port,
)

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
