"""Gateway certificates from Kubernetes Secrets (`credentialName`), served to Envoy over SDS.

As istiod: the secret `NAME` in the gateway proxy's namespace becomes the SDS resource
`kubernetes://NAME` (tls.crt + tls.key); for mutual TLS the CA comes from `kubernetes://NAME-cacert`,
read from the secret's `ca.crt` or from a separate secret `NAME-cacert`. Certificates rotate
without a restart: editing the Secret pushes the new SDS resource.
"""

from __future__ import annotations

from envoy.config.core.v3 import base_pb2
from envoy.config.listener.v3 import listener_pb2
from envoy.extensions.transport_sockets.tls.v3 import common_pb2, tls_pb2
from envoy.extensions.transport_sockets.tls.v3 import secret_pb2 as envoy_secret_pb2

from meshpilot.api.kube.v1 import secret_pb2
from meshpilot.model.objects import ConfigKey, ConfigObject
from meshpilot.model.proxy import Proxy
from meshpilot.model.validate_sidecar import secret_value
from meshpilot.translator.context import MeshContext

PREFIX = "kubernetes://"
CACERT_SUFFIX = "-cacert"


def cert_name(credential: str) -> str:
    return f"{PREFIX}{credential}"


def ca_name(credential: str) -> str:
    return f"{PREFIX}{credential}{CACERT_SUFFIX}"


def _secret(ctx: MeshContext, namespace: str, name: str) -> secret_pb2.Secret | None:
    obj: ConfigObject | None = ctx.store.get(ConfigKey("Secret", namespace, name))
    if obj is None:
        return None
    assert isinstance(obj.spec, secret_pb2.Secret)
    return obj.spec


def missing_material(ctx: MeshContext, proxy: Proxy, credential: str, *, needs_ca: bool) -> str:
    """What a credentialName lacks ('' if complete): the secret, its key pair, or its CA."""
    spec = _secret(ctx, proxy.namespace, credential)
    if spec is None:
        return f"no Secret {proxy.namespace}/{credential}"
    if not (secret_value(spec, "tls.crt") and secret_value(spec, "tls.key")):
        return f"Secret {proxy.namespace}/{credential} has no tls.crt and tls.key"
    if needs_ca and _ca(ctx, proxy, credential) is None:
        return f"no ca.crt in Secret {proxy.namespace}/{credential} or {proxy.namespace}/{credential}{CACERT_SUFFIX}"
    return ""


def _ca(ctx: MeshContext, proxy: Proxy, credential: str) -> bytes | None:
    for name in (credential + CACERT_SUFFIX, credential):
        spec = _secret(ctx, proxy.namespace, name)
        if spec is not None and secret_value(spec, "ca.crt"):
            return secret_value(spec, "ca.crt")
    return None


def sds_secret(ctx: MeshContext, proxy: Proxy, sds_name: str) -> envoy_secret_pb2.Secret | None:
    """The SDS resource for `kubernetes://NAME` or `kubernetes://NAME-cacert`, if it exists."""
    if not sds_name.startswith(PREFIX):
        return None
    credential = sds_name.removeprefix(PREFIX)
    out = envoy_secret_pb2.Secret(name=sds_name)
    spec = _secret(ctx, proxy.namespace, credential)
    if spec is not None and secret_value(spec, "tls.crt") and secret_value(spec, "tls.key"):
        out.tls_certificate.CopyFrom(
            common_pb2.TlsCertificate(
                certificate_chain=base_pb2.DataSource(inline_bytes=secret_value(spec, "tls.crt")),
                private_key=base_pb2.DataSource(inline_bytes=secret_value(spec, "tls.key")),
            )
        )
        return out
    if credential.endswith(CACERT_SUFFIX):
        ca = _ca(ctx, proxy, credential.removesuffix(CACERT_SUFFIX))
        if ca is not None:
            out.validation_context.trusted_ca.inline_bytes = ca
            return out
    return None


_DOWNSTREAM_TLS = "envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext"


def referenced_secrets(listener: listener_pb2.Listener) -> set[str]:
    out: set[str] = set()
    for chain in [*listener.filter_chains, listener.default_filter_chain]:
        ts = chain.transport_socket
        if ts.typed_config.type_url.endswith(_DOWNSTREAM_TLS):
            ctx = tls_pb2.DownstreamTlsContext()
            ts.typed_config.Unpack(ctx)
            common = ctx.common_tls_context
            out.update(s.name for s in common.tls_certificate_sds_secret_configs)
            if common.HasField("validation_context_sds_secret_config"):
                out.add(common.validation_context_sds_secret_config.name)
            if common.combined_validation_context.HasField("validation_context_sds_secret_config"):
                out.add(common.combined_validation_context.validation_context_sds_secret_config.name)
    return out
