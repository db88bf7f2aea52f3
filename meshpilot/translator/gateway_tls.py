"""Gateway server TLS settings -> Envoy DownstreamTlsContext (istiod's BuildListenerTLSContext).

- certificates come from files on the gateway: `serverCertificate` + `privateKey` become the
  one `tls_certificates` entry; MUTUAL and OPTIONAL_MUTUAL verify clients against
  `caCertificates` (plus `caCrl`, `subjectAltNames`, `verifyCertificateSpki`,
  `verifyCertificateHash`); MUTUAL requires a client certificate;
- ALPN is `h2`, `http/1.1` on every terminating server (istiod's ALPNHttp, also for TLS servers
  in front of TCP routes);
- `minProtocolVersion`, `maxProtocolVersion` and `cipherSuites` become `tls_params`. The minimum
  defaults to TLS 1.2: the Istio API's documented default, which istiod leaves to Envoy
  (Envoy >= 1.22 defaults servers to TLSv1_2); meshpilot writes it out so it never depends on
  the Envoy version. Duplicate cipher suites are dropped, as istiod's FilterCipherSuites does.
"""

from __future__ import annotations

from envoy.config.core.v3 import base_pb2
from envoy.config.listener.v3 import listener_components_pb2 as lc
from envoy.extensions.filters.listener.tls_inspector.v3 import tls_inspector_pb2
from envoy.extensions.transport_sockets.tls.v3 import common_pb2, tls_pb2
from envoy.type.matcher.v3 import string_pb2

from meshpilot.api.networking.v1 import gateway_pb2
from meshpilot.translator.envoy import ads_config_source, to_any
from meshpilot.translator.secrets import ca_name, cert_name

TLS = gateway_pb2.ServerTLSSettings
ALPN_HTTP = ("h2", "http/1.1")
DEFAULT_MIN_VERSION = common_pb2.TlsParameters.TLSv1_2
TLS_INSPECTOR = "envoy.filters.listener.tls_inspector"
TLS_TRANSPORT_SOCKET = "envoy.transport_sockets.tls"
HANDSHAKE_TIMEOUT_S = 15  # istiod's defaultGatewayTransportSocketConnectTimeout
_VERIFIES_CLIENTS = (TLS.MUTUAL, TLS.OPTIONAL_MUTUAL)


def tls_inspector() -> lc.ListenerFilter:
    return lc.ListenerFilter(name=TLS_INSPECTOR, typed_config=to_any(tls_inspector_pb2.TlsInspector()))


def _tls_params(tls: gateway_pb2.ServerTLSSettings) -> common_pb2.TlsParameters:
    params = common_pb2.TlsParameters(
        # Same numbering in both APIs (istiod's convertTLSProtocol casts too).
        tls_minimum_protocol_version=tls.min_protocol_version or DEFAULT_MIN_VERSION,
        tls_maximum_protocol_version=tls.max_protocol_version,
    )
    params.cipher_suites.extend(dict.fromkeys(tls.cipher_suites))
    return params


def _san_matcher(san: str) -> common_pb2.SubjectAltNameMatcher:
    """A URI SAN for `scheme://...` (e.g. SPIFFE ids), a DNS SAN otherwise."""
    san_type = common_pb2.SubjectAltNameMatcher.URI if "://" in san else common_pb2.SubjectAltNameMatcher.DNS
    return common_pb2.SubjectAltNameMatcher(san_type=san_type, matcher=string_pb2.StringMatcher(exact=san))


def downstream_tls_context(tls: gateway_pb2.ServerTLSSettings) -> tls_pb2.DownstreamTlsContext:
    """The TLS context of a terminating server (mode SIMPLE, MUTUAL or OPTIONAL_MUTUAL):
    certificates from files, or over SDS from the Secret named by credentialName."""
    common = tls_pb2.CommonTlsContext(alpn_protocols=ALPN_HTTP, tls_params=_tls_params(tls))
    if tls.credential_name:
        common.tls_certificate_sds_secret_configs.add(
            name=cert_name(tls.credential_name), sds_config=ads_config_source()
        )
    else:
        common.tls_certificates.add(
            certificate_chain=base_pb2.DataSource(filename=tls.server_certificate),
            private_key=base_pb2.DataSource(filename=tls.private_key),
        )
    if tls.mode in _VERIFIES_CLIENTS:
        if tls.credential_name:
            combined = common.combined_validation_context
            combined.validation_context_sds_secret_config.name = ca_name(tls.credential_name)
            combined.validation_context_sds_secret_config.sds_config.CopyFrom(ads_config_source())
            vc = combined.default_validation_context
        else:
            vc = common.validation_context
            vc.trusted_ca.filename = tls.ca_certificates
        if tls.ca_crl:
            vc.crl.filename = tls.ca_crl
        vc.match_typed_subject_alt_names.extend(_san_matcher(s) for s in tls.subject_alt_names)
        vc.verify_certificate_spki.extend(tls.verify_certificate_spki)
        vc.verify_certificate_hash.extend(tls.verify_certificate_hash)
    ctx = tls_pb2.DownstreamTlsContext(common_tls_context=common)
    ctx.require_client_certificate.value = tls.mode == TLS.MUTUAL
    return ctx


def transport_socket(tls: gateway_pb2.ServerTLSSettings) -> base_pb2.TransportSocket:
    return base_pb2.TransportSocket(name=TLS_TRANSPORT_SOCKET, typed_config=to_any(downstream_tls_context(tls)))


def tls_warnings(tls: gateway_pb2.ServerTLSSettings) -> list[tuple[str, str]]:
    """(field, message) for settings a server accepts but does not use, as istiod warns or ignores."""
    out: list[tuple[str, str]] = []
    if tls.mode == TLS.PASSTHROUGH:
        for field, json in (
            ("server_certificate", "serverCertificate"),
            ("private_key", "privateKey"),
            ("ca_certificates", "caCertificates"),
            ("ca_crl", "caCrl"),
        ):
            if getattr(tls, field):
                out.append((f"tls.{json}", "PASSTHROUGH does not terminate TLS: certificates are ignored"))
        return out
    if tls.mode not in _VERIFIES_CLIENTS:
        for field, json in (
            ("ca_certificates", "caCertificates"),
            ("subject_alt_names", "subjectAltNames"),
            ("verify_certificate_spki", "verifyCertificateSpki"),
            ("verify_certificate_hash", "verifyCertificateHash"),
        ):
            if getattr(tls, field):
                out.append((f"tls.{json}", "only used to verify clients (mode MUTUAL or OPTIONAL_MUTUAL); ignored"))
    low = tls.min_protocol_version in (TLS.TLSV1_0, TLS.TLSV1_1)
    if low and not tls.cipher_suites:
        out.append(
            (
                "tls.minProtocolVersion",
                "TLS versions below TLSV1_2 need cipherSuites that support them (Envoy's default list "
                "has none), so such clients will fail the handshake",
            )
        )
    return out
