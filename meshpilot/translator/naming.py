"""Every Envoy resource name meshpilot generates, in one place (Istio's conventions)."""

from __future__ import annotations


def outbound_cluster(port: int, subset: str, host: str) -> str:
    """`outbound|80|v1|reviews.default.svc.cluster.local`, as istiod names it."""
    return f"outbound|{port}|{subset}|{host}"


def parse_outbound_cluster(name: str) -> tuple[int, str, str] | None:
    parts = name.split("|")
    if len(parts) != 4 or parts[0] != "outbound" or not parts[1].isdigit():
        return None
    return int(parts[1]), parts[2], parts[3]


def fallback_cluster(primary: str, fallback: str) -> str:
    """Aggregate cluster trying `primary` first and `fallback` when it has no healthy endpoint.

    `fallback|80|s2|mockb.default.svc.cluster.local|80|s1|mockb.default.svc.cluster.local`.
    """
    p = primary.split("|", 1)[1]
    f = fallback.split("|", 1)[1]
    return f"fallback|{p}|{f}"


def listener(address: str, port: int) -> str:
    return f"{address}_{port}"


def gateway_route(port: int) -> str:
    """RDS name of a gateway's HTTP listener (istiod: `http.8080`)."""
    return f"http.{port}"


def virtual_host(host: str, port: int) -> str:
    return f"{host}:{port}"


def http_stat_prefix(address: str, port: int) -> str:
    return f"outbound_{address}_{port}"


# ----------------------------------------------------------------------------- sidecars
VIRTUAL_OUTBOUND = "virtualOutbound"  # 0.0.0.0:15001, iptables-redirected outbound traffic
VIRTUAL_INBOUND = "virtualInbound"  # 0.0.0.0:15006, iptables-redirected inbound traffic
VIRTUAL_OUTBOUND_PORT = 15001
VIRTUAL_INBOUND_PORT = 15006
BLACKHOLE_CLUSTER = "BlackHoleCluster"
PASSTHROUGH_CLUSTER = "PassthroughCluster"
INBOUND_PASSTHROUGH_CLUSTER = "InboundPassthroughCluster"
WILDCARD = "0.0.0.0"


def inbound_cluster(port: int) -> str:
    """`inbound|9080||`: the local workload behind a sidecar's inbound port."""
    return f"inbound|{port}||"


def sidecar_outbound_route(port: int, bind: str = "") -> str:
    """RDS name of a sidecar's outbound HTTP listener: the port (`9080`), as istiod names it;
    a listener bound to a specific address gets `<bind>_<port>` so two never collide."""
    return str(port) if bind in ("", WILDCARD) else f"{bind}_{port}"


# ----------------------------------------------------------------------------- gateway TLS/TCP
def gateway_https_route(port: int, port_name: str, gateway: str, namespace: str) -> str:
    """RDS name of an HTTPS server terminating TLS on a gateway, as istiod names it
    (`https.443.https-shop.ingress.istio-system`): one route configuration per server."""
    return f"https.{port}.{port_name}.{gateway}.{namespace}"


def tcp_stat_prefix(cluster: str) -> str:
    """A gateway tcp_proxy to one cluster is named after it (istiod)."""
    return cluster


def tcp_weighted_stat_prefix(vs_name: str, vs_namespace: str) -> str:
    """A gateway tcp_proxy to weighted clusters is named `<vs name>.<vs namespace>` (istiod)."""
    return f"{vs_name}.{vs_namespace}"
