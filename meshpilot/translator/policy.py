"""DestinationRule traffic policies: Istio's merge order, and what each field becomes in Envoy.

Merge (istiod's MergeSubsetTrafficPolicy): the rule's top-level policy, then its
`portLevelSettings` for the cluster's port, then the subset's policy, then the subset's
`portLevelSettings` for the port. Each of loadBalancer, connectionPool, outlierDetection and
tls is replaced whole by a later layer that sets it; a port-level entry replaces all four
(unset ones go back to defaults), as Istio documents.
"""

from __future__ import annotations

from collections.abc import Iterable

from envoy.config.cluster.v3 import cluster_pb2, outlier_detection_pb2
from envoy.config.core.v3 import base_pb2
from envoy.config.route.v3 import route_components_pb2 as rc
from envoy.extensions.transport_sockets.tls.v3 import common_pb2 as tls_common_pb2
from envoy.extensions.transport_sockets.tls.v3 import tls_pb2
from envoy.extensions.upstreams.http.v3 import http_protocol_options_pb2 as hpo_pb2
from envoy.type.matcher.v3 import string_pb2

from meshpilot.api.networking.v1 import destination_rule_pb2 as dr_pb2
from meshpilot.translator.envoy import to_any

LB = dr_pb2.LoadBalancerSettings
TLS = dr_pb2.ClientTLSSettings
HTTP_OPTIONS = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
_FIELDS = ("load_balancer", "connection_pool", "outlier_detection", "tls")
_SIMPLE = {
    LB.ROUND_ROBIN: cluster_pb2.Cluster.ROUND_ROBIN,
    LB.LEAST_CONN: cluster_pb2.Cluster.LEAST_REQUEST,
    LB.LEAST_REQUEST: cluster_pb2.Cluster.LEAST_REQUEST,
    LB.RANDOM: cluster_pb2.Cluster.RANDOM,
}
DEFAULT_RING_SIZE = 1024  # istiod's minimum ring size when consistentHash sets none
SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"  # Debian/Ubuntu; istiod probes a list


def _port_level(policy: dr_pb2.TrafficPolicy, port: int) -> dr_pb2.TrafficPolicy.PortTrafficPolicy | None:
    return next((p for p in policy.port_level_settings if p.port.number == port), None)


def merge_policy(
    top: dr_pb2.TrafficPolicy | None, subset: dr_pb2.TrafficPolicy | None, port: int
) -> dr_pb2.TrafficPolicy:
    """The effective policy of one cluster (rule, subset, port), in istiod's order."""
    merged = dr_pb2.TrafficPolicy()
    for layer in (top, subset):
        if layer is None:
            continue
        for field in _FIELDS:
            if layer.HasField(field):
                getattr(merged, field).CopyFrom(getattr(layer, field))
        pl = _port_level(layer, port)
        if pl is not None:
            for field in _FIELDS:
                merged.ClearField(field)
                if pl.HasField(field):
                    getattr(merged, field).CopyFrom(getattr(pl, field))
    return merged


def apply_policy(c: cluster_pb2.Cluster, policy: dr_pb2.TrafficPolicy, http2: bool) -> list[str]:
    """Set the policy on cluster `c` in place; returns messages for what is not supported."""
    unsupported: list[str] = []
    if policy.HasField("load_balancer"):
        _load_balancer(c, policy.load_balancer)
    if policy.HasField("connection_pool"):
        _connection_pool(c, policy.connection_pool, http2)
    if policy.HasField("outlier_detection"):
        _outlier_detection(c, policy.outlier_detection)
    if policy.HasField("tls"):
        unsupported.extend(_tls(c, policy.tls))
    return unsupported


def _load_balancer(c: cluster_pb2.Cluster, lb: dr_pb2.LoadBalancerSettings) -> None:
    which = lb.WhichOneof("lb_policy")
    if which == "simple":
        if lb.simple == LB.PASSTHROUGH:
            c.ClearField("eds_cluster_config")
            c.ClearField("load_assignment")  # ORIGINAL_DST clusters must have none
            c.type = cluster_pb2.Cluster.ORIGINAL_DST
            c.lb_policy = cluster_pb2.Cluster.CLUSTER_PROVIDED
        elif lb.simple in _SIMPLE:
            c.lb_policy = _SIMPLE[lb.simple]
    elif which == "consistent_hash":
        c.lb_policy = cluster_pb2.Cluster.RING_HASH
        c.ring_hash_lb_config.minimum_ring_size.value = lb.consistent_hash.minimum_ring_size or DEFAULT_RING_SIZE
    if lb.HasField("warmup_duration_secs"):
        # Slow start exists for ROUND_ROBIN and LEAST_REQUEST only (as in istiod).
        if c.lb_policy == cluster_pb2.Cluster.ROUND_ROBIN:
            c.round_robin_lb_config.slow_start_config.slow_start_window.CopyFrom(lb.warmup_duration_secs)
        elif c.lb_policy == cluster_pb2.Cluster.LEAST_REQUEST:
            c.least_request_lb_config.slow_start_config.slow_start_window.CopyFrom(lb.warmup_duration_secs)


def _http_options(c: cluster_pb2.Cluster, http2: bool) -> hpo_pb2.HttpProtocolOptions:
    opts = hpo_pb2.HttpProtocolOptions()
    if HTTP_OPTIONS in c.typed_extension_protocol_options:
        c.typed_extension_protocol_options[HTTP_OPTIONS].Unpack(opts)
    if not opts.HasField("explicit_http_config"):
        if http2:
            opts.explicit_http_config.http2_protocol_options.SetInParent()
        else:
            opts.explicit_http_config.http_protocol_options.SetInParent()
    return opts


def _connection_pool(c: cluster_pb2.Cluster, cp: dr_pb2.ConnectionPoolSettings, http2: bool) -> None:
    th = c.circuit_breakers.thresholds[0] if c.circuit_breakers.thresholds else c.circuit_breakers.thresholds.add()
    if cp.tcp.max_connections > 0:
        th.max_connections.value = cp.tcp.max_connections
    if cp.tcp.HasField("connect_timeout"):
        c.connect_timeout.CopyFrom(cp.tcp.connect_timeout)
    h = cp.http
    if h.http1_max_pending_requests > 0:
        th.max_pending_requests.value = h.http1_max_pending_requests
    if h.http2_max_requests > 0:
        th.max_requests.value = h.http2_max_requests
    if h.max_retries > 0:
        th.max_retries.value = h.max_retries
    if h.max_requests_per_connection > 0 or h.HasField("idle_timeout") or h.max_concurrent_streams > 0:
        opts = _http_options(c, http2)
        common = opts.common_http_protocol_options
        if h.max_requests_per_connection > 0:
            common.max_requests_per_connection.value = h.max_requests_per_connection
        if h.HasField("idle_timeout"):
            common.idle_timeout.CopyFrom(h.idle_timeout)
        if h.max_concurrent_streams > 0 and opts.explicit_http_config.HasField("http2_protocol_options"):
            opts.explicit_http_config.http2_protocol_options.max_concurrent_streams.value = h.max_concurrent_streams
        c.typed_extension_protocol_options[HTTP_OPTIONS].CopyFrom(to_any(opts))
    if cp.tcp.HasField("idle_timeout"):
        opts = _http_options(c, http2)
        if not opts.common_http_protocol_options.HasField("idle_timeout"):
            opts.common_http_protocol_options.idle_timeout.CopyFrom(cp.tcp.idle_timeout)
        c.typed_extension_protocol_options[HTTP_OPTIONS].CopyFrom(to_any(opts))


def _outlier_detection(c: cluster_pb2.Cluster, od: dr_pb2.OutlierDetection) -> None:
    out = outlier_detection_pb2.OutlierDetection()
    # istiod: success-rate ejection off; enforcing 100% for the consecutive counters that are set.
    out.enforcing_success_rate.value = 0
    if od.HasField("consecutive_5xx_errors"):
        v = od.consecutive_5xx_errors.value
        out.consecutive_5xx.value = v
        out.enforcing_consecutive_5xx.value = 100 if v > 0 else 0
    if od.HasField("consecutive_gateway_errors"):
        v = od.consecutive_gateway_errors.value
        out.consecutive_gateway_failure.value = v
        out.enforcing_consecutive_gateway_failure.value = 100 if v > 0 else 0
    if od.HasField("interval"):
        out.interval.CopyFrom(od.interval)
    if od.HasField("base_ejection_time"):
        out.base_ejection_time.CopyFrom(od.base_ejection_time)
    if od.max_ejection_percent > 0:
        out.max_ejection_percent.value = od.max_ejection_percent
    c.outlier_detection.CopyFrom(out)
    # istiod: with outlier detection the panic threshold is minHealthPercent (0 = never panic).
    c.common_lb_config.healthy_panic_threshold.value = float(od.min_health_percent)


def _tls(c: cluster_pb2.Cluster, t: dr_pb2.ClientTLSSettings) -> list[str]:
    if t.mode == TLS.DISABLE:
        return []
    if t.mode == TLS.ISTIO_MUTUAL:
        return ["tls.mode ISTIO_MUTUAL needs the mesh CA, which is not supported yet; plaintext is used"]
    if t.credential_name:
        return ["tls.credentialName (Kubernetes secrets) is not supported yet; plaintext is used"]
    ctx = tls_pb2.UpstreamTlsContext(sni=t.sni)
    common = ctx.common_tls_context
    if t.mode == TLS.MUTUAL:
        common.tls_certificates.add(
            certificate_chain=base_pb2.DataSource(filename=t.client_certificate),
            private_key=base_pb2.DataSource(filename=t.private_key),
        )
    if not (t.HasField("insecure_skip_verify") and t.insecure_skip_verify.value):
        vc = common.validation_context
        # Without caCertificates, verify against the system trust store (as istiod does).
        vc.trusted_ca.filename = t.ca_certificates or SYSTEM_CA_BUNDLE
        for san in t.subject_alt_names:
            vc.match_typed_subject_alt_names.add(
                san_type=tls_common_pb2.SubjectAltNameMatcher.DNS, matcher=string_pb2.StringMatcher(exact=san)
            )
    c.transport_socket.name = "envoy.transport_sockets.tls"
    c.transport_socket.typed_config.CopyFrom(to_any(ctx))
    return []


def hash_policies(policy: dr_pb2.TrafficPolicy) -> list[rc.RouteAction.HashPolicy]:
    """Route hash policies for a cluster whose load balancer is consistentHash."""
    lb = policy.load_balancer
    if lb.WhichOneof("lb_policy") != "consistent_hash":
        return []
    ch = lb.consistent_hash
    which = ch.WhichOneof("hash_key")
    HP = rc.RouteAction.HashPolicy
    if which == "http_header_name":
        return [HP(header=HP.Header(header_name=ch.http_header_name))]
    if which == "http_cookie":
        cookie = HP.Cookie(name=ch.http_cookie.name, path=ch.http_cookie.path)
        if ch.http_cookie.HasField("ttl"):
            cookie.ttl.CopyFrom(ch.http_cookie.ttl)
        return [HP(cookie=cookie)]
    if which == "use_source_ip":
        return [HP(connection_properties=HP.ConnectionProperties(source_ip=True))]
    if which == "http_query_parameter_name":
        return [HP(query_parameter=HP.QueryParameter(name=ch.http_query_parameter_name))]
    return []


def same_hash_policies(
    policies: Iterable[list[rc.RouteAction.HashPolicy]],
) -> list[rc.RouteAction.HashPolicy]:
    """Weighted routes get a hash policy only when every leg agrees on it."""
    ps = list(policies)
    if not ps or any(p != ps[0] for p in ps):
        return []
    return ps[0]
