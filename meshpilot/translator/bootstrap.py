"""Envoy bootstrap for a proxy managed by meshpilot (pure: returns a dict to dump as YAML/JSON)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

XDS_CLUSTER = "xds-grpc"
_HTTP_OPTIONS = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"


def node_id(role: str, ip: str, pod: str, namespace: str) -> str:
    """Istio-style node id: `router~10.0.0.1~gw-1.istio-system~istio-system.svc.cluster.local`."""
    return f"{role}~{ip}~{pod}.{namespace}~{namespace}.svc.cluster.local"


def bootstrap(
    *,
    node: str,
    cluster: str,
    namespace: str,
    labels: Mapping[str, str],
    xds_host: str,
    xds_port: int,
    admin_address: str = "127.0.0.1",
    admin_port: int = 15000,
    locality: str = "",
) -> dict[str, Any]:
    node_doc: dict[str, Any] = {
        "id": node,
        "cluster": cluster,
        "metadata": {"NAMESPACE": namespace, "LABELS": dict(sorted(labels.items()))},
    }
    if locality:
        region, zone, sub_zone = ([*locality.split("/"), "", "", ""])[:3]
        node_doc["locality"] = {k: v for k, v in (("region", region), ("zone", zone), ("sub_zone", sub_zone)) if v}
    return {
        "node": node_doc,
        "admin": {"address": {"socket_address": {"address": admin_address, "port_value": admin_port}}},
        "dynamic_resources": {
            "ads_config": {
                "api_type": "GRPC",
                "transport_api_version": "V3",
                "set_node_on_first_message_only": True,
                "grpc_services": [{"envoy_grpc": {"cluster_name": XDS_CLUSTER}}],
            },
            "cds_config": {"ads": {}, "resource_api_version": "V3"},
            "lds_config": {"ads": {}, "resource_api_version": "V3"},
        },
        "static_resources": {
            "clusters": [
                {
                    "name": XDS_CLUSTER,
                    "type": "STRICT_DNS",
                    "connect_timeout": "1s",
                    "typed_extension_protocol_options": {
                        _HTTP_OPTIONS: {
                            "@type": f"type.googleapis.com/{_HTTP_OPTIONS}",
                            "explicit_http_config": {
                                "http2_protocol_options": {"connection_keepalive": {"interval": "30s", "timeout": "5s"}}
                            },
                        }
                    },
                    "load_assignment": {
                        "cluster_name": XDS_CLUSTER,
                        "endpoints": [
                            {
                                "lb_endpoints": [
                                    {
                                        "endpoint": {
                                            "address": {
                                                "socket_address": {
                                                    "address": xds_host,
                                                    "port_value": xds_port,
                                                }
                                            }
                                        }
                                    }
                                ]
                            }
                        ],
                    },
                }
            ]
        },
    }
