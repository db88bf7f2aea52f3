"""Listener building blocks shared by sidecars (and gateways): network filters, filter chains."""

from __future__ import annotations

from envoy.config.listener.v3 import listener_components_pb2 as lc
from envoy.config.route.v3 import route_pb2
from envoy.extensions.filters.http.cors.v3 import cors_pb2
from envoy.extensions.filters.http.fault.v3 import fault_pb2
from envoy.extensions.filters.http.router.v3 import router_pb2
from envoy.extensions.filters.listener.original_dst.v3 import original_dst_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import (
    http_connection_manager_pb2 as hcm_pb2,
)
from envoy.extensions.filters.network.tcp_proxy.v3 import tcp_proxy_pb2

from meshpilot.translator.envoy import ads_config_source, to_any
from meshpilot.translator.http_policies import CORS_FILTER, FAULT_FILTER

HCM = "envoy.filters.network.http_connection_manager"
TCP_PROXY = "envoy.filters.network.tcp_proxy"


def standard_http_filters() -> list[hcm_pb2.HttpFilter]:
    """istiod's chain: fault and CORS (inert unless a route configures them), then the router."""
    return [
        hcm_pb2.HttpFilter(name=FAULT_FILTER, typed_config=to_any(fault_pb2.HTTPFault())),
        hcm_pb2.HttpFilter(name=CORS_FILTER, typed_config=to_any(cors_pb2.Cors())),
        hcm_pb2.HttpFilter(name="envoy.filters.http.router", typed_config=to_any(router_pb2.Router())),
    ]


def http_filter(
    stat_prefix: str, *, rds: str = "", route_config: route_pb2.RouteConfiguration | None = None
) -> lc.Filter:
    """An HTTP connection manager with istiod's defaults (path normalization BASE, no idle
    stream timeout), routes from RDS `rds` or inline `route_config`."""
    hcm = hcm_pb2.HttpConnectionManager(
        stat_prefix=stat_prefix,
        http_filters=standard_http_filters(),
        normalize_path={"value": True},
        path_with_escaped_slashes_action=hcm_pb2.HttpConnectionManager.KEEP_UNCHANGED,
    )
    hcm.stream_idle_timeout.seconds = 0
    if rds:
        hcm.rds.CopyFrom(hcm_pb2.Rds(config_source=ads_config_source(), route_config_name=rds))
    elif route_config is not None:
        hcm.route_config.CopyFrom(route_config)
    return lc.Filter(name=HCM, typed_config=to_any(hcm))


def tcp_filter(stat_prefix: str, cluster: str) -> lc.Filter:
    return lc.Filter(
        name=TCP_PROXY, typed_config=to_any(tcp_proxy_pb2.TcpProxy(stat_prefix=stat_prefix, cluster=cluster))
    )


def original_dst_filter() -> lc.ListenerFilter:
    return lc.ListenerFilter(
        name="envoy.filters.listener.original_dst", typed_config=to_any(original_dst_pb2.OriginalDst())
    )
