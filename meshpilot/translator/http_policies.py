"""VirtualService fault injection, traffic mirroring and CORS as Envoy per-route config.

As istiod: the HTTP connection managers carry the `envoy.filters.http.fault` and
`envoy.filters.http.cors` filters (inert without per-route config); a route's `fault` and
`corsPolicy` become `typed_per_filter_config`, and `mirror`/`mirrors` become
`request_mirror_policies` (percentages as FractionalPercent per million).
"""

from __future__ import annotations

from envoy.config.route.v3 import route_components_pb2 as rc
from envoy.extensions.filters.common.fault.v3 import fault_pb2 as common_fault_pb2
from envoy.extensions.filters.http.cors.v3 import cors_pb2
from envoy.extensions.filters.http.fault.v3 import fault_pb2
from envoy.type.v3 import percent_pb2

from meshpilot.api.networking.v1 import virtual_service_pb2 as vs_pb2
from meshpilot.translator.envoy import to_any

FAULT_FILTER = "envoy.filters.http.fault"
CORS_FILTER = "envoy.filters.http.cors"
_GRPC_CODES = {
    "OK": 0, "CANCELLED": 1, "UNKNOWN": 2, "INVALID_ARGUMENT": 3, "DEADLINE_EXCEEDED": 4, "NOT_FOUND": 5,
    "ALREADY_EXISTS": 6, "PERMISSION_DENIED": 7, "RESOURCE_EXHAUSTED": 8, "FAILED_PRECONDITION": 9,
    "ABORTED": 10, "OUT_OF_RANGE": 11, "UNIMPLEMENTED": 12, "INTERNAL": 13, "UNAVAILABLE": 14,
    "DATA_LOSS": 15, "UNAUTHENTICATED": 16,
}  # fmt: skip


def fractional(percent: float) -> percent_pb2.FractionalPercent:
    """Istio's translation of a percentage: parts per million."""
    return percent_pb2.FractionalPercent(
        numerator=round(percent * 10_000), denominator=percent_pb2.FractionalPercent.MILLION
    )


def _percentage(p: vs_pb2.Percent | None, legacy: int = 0) -> percent_pb2.FractionalPercent:
    if p is not None:
        return fractional(p.value)
    return fractional(legacy if legacy else 100.0)


def fault_config(f: vs_pb2.HTTPFaultInjection) -> fault_pb2.HTTPFault:
    out = fault_pb2.HTTPFault()
    if f.HasField("delay") and f.delay.HasField("fixed_delay"):
        d = f.delay
        out.delay.CopyFrom(
            common_fault_pb2.FaultDelay(
                fixed_delay=d.fixed_delay,
                percentage=_percentage(d.percentage if d.HasField("percentage") else None, d.percent),
            )
        )
    if f.HasField("abort"):
        a = f.abort
        abort = fault_pb2.FaultAbort(percentage=_percentage(a.percentage if a.HasField("percentage") else None))
        if a.WhichOneof("error_type") == "grpc_status":
            abort.grpc_status = _GRPC_CODES.get(a.grpc_status.upper(), 2)
        else:
            abort.http_status = a.http_status
        out.abort.CopyFrom(abort)
    return out


def cors_config(c: vs_pb2.CorsPolicy) -> cors_pb2.CorsPolicy:
    from meshpilot.translator.routes import string_matcher  # shared StringMatch translation

    out = cors_pb2.CorsPolicy(
        allow_origin_string_match=[string_matcher(o) for o in c.allow_origins],
        allow_methods=",".join(c.allow_methods),
        allow_headers=",".join(c.allow_headers),
        expose_headers=",".join(c.expose_headers),
    )
    if c.HasField("max_age"):
        out.max_age = str(c.max_age.seconds)
    if c.HasField("allow_credentials"):
        out.allow_credentials.value = c.allow_credentials.value
    # Istio: a policy with no origin allows none; Envoy's filter is enabled per route.
    out.filter_enabled.default_value.CopyFrom(fractional(100.0))
    return out


def apply_fault_and_cors(r: rc.Route, route: vs_pb2.HTTPRoute) -> None:
    if route.HasField("fault"):
        r.typed_per_filter_config[FAULT_FILTER].CopyFrom(to_any(fault_config(route.fault)))
    if route.HasField("cors_policy"):
        r.typed_per_filter_config[CORS_FILTER].CopyFrom(to_any(cors_config(route.cors_policy)))


def mirror_policy(cluster: str, percentage: vs_pb2.Percent | None) -> rc.RouteAction.RequestMirrorPolicy:
    policy = rc.RouteAction.RequestMirrorPolicy(cluster=cluster)
    policy.runtime_fraction.default_value.CopyFrom(fractional(percentage.value if percentage else 100.0))
    return policy
