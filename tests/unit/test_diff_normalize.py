"""Normalisation and input documents: what Envoy adds when dumping compares equal to what was sent."""

from __future__ import annotations

import copy
import json
import pathlib
import subprocess
import sys
from typing import Any

import pytest

from meshpilot.diff import compare
from meshpilot.diff.documents import ENVOY_DUMP, MESHPILOT_DUMP, SNAPSHOT, read_document
from meshpilot.diff.normalize import CanonicalError, canonical, light
from meshpilot.diff.snapshots import CLUSTERS, ENDPOINTS, LISTENERS, ROUTES, DiffInputError, Side
from meshpilot.model.loader import ConfigLoader
from meshpilot.model.proxy import parse_proxy
from meshpilot.translator import translate_store
from meshpilot.translator.render import plain_all

ROOT = pathlib.Path(__file__).resolve().parents[2]
GW = "router~10.0.0.1~gw-1.istio-system~istio-system.svc.cluster.local"
ADMIN = "type.googleapis.com/envoy.admin.v3."
V3 = "type.googleapis.com/envoy.config."


def translated() -> dict[str, Any]:
    files = {p.name: p.read_bytes() for p in (ROOT / "examples" / "config").glob("*.yaml")}
    t = translate_store(ConfigLoader().load(files).store, parse_proxy(GW, {"LABELS": {"istio": "ingressgateway"}}))
    return {
        "node_id": GW,
        "listeners": plain_all(t.listeners),
        "routes": plain_all(t.routes),
        "clusters": plain_all(t.clusters),
        "endpoints": plain_all(t.endpoints),
    }


def as_envoy_dumps(snap: dict[str, Any]) -> dict[str, Any]:
    """`snap` the way Envoy 1.40 dumps it (shapes copied from a real /config_dump?include_eds)."""
    ts = "2026-11-22T00:53:25.192Z"
    clusters = [
        {"version_info": "7ad1", "cluster": {"@type": f"{V3}cluster.v3.Cluster", **c}, "last_updated": ts}
        for c in snap["clusters"]
    ]
    endpoints = []
    for cla in copy.deepcopy(snap["endpoints"]):
        cla.setdefault("policy", {}).setdefault("overprovisioning_factor", 140)
        for loc in cla.get("endpoints", []):
            for lb in loc["lb_endpoints"]:
                lb["endpoint"]["health_check_config"] = {}
        endpoints.append({"endpoint_config": {"@type": f"{V3}endpoint.v3.ClusterLoadAssignment", **cla}})
    # Envoy also dumps a load assignment for clusters that do not use EDS (here the aggregate one).
    for c in snap["clusters"]:
        if c.get("type") != "EDS":
            endpoints.append(
                {
                    "endpoint_config": {
                        "@type": f"{V3}endpoint.v3.ClusterLoadAssignment",
                        "cluster_name": c["name"],
                        "policy": {"overprovisioning_factor": 140},
                    }
                }
            )
    static_cla = {"cluster_name": "xds-grpc", "endpoints": [{"locality": {}, "lb_endpoints": []}]}
    return {
        "configs": [
            {
                "@type": f"{ADMIN}BootstrapConfigDump",
                "bootstrap": {
                    "node": {
                        "id": snap["node_id"],
                        "metadata": {"LABELS": {"istio": "ingressgateway"}, "NAMESPACE": "istio-system"},
                    }
                },
                "last_updated": ts,
            },
            {
                "@type": f"{ADMIN}ClustersConfigDump",
                "version_info": "7ad1",
                "static_clusters": [{"cluster": {"@type": f"{V3}cluster.v3.Cluster", "name": "xds-grpc"}}],
                "dynamic_active_clusters": clusters,
                "dynamic_warming_clusters": [{"cluster": {"@type": f"{V3}cluster.v3.Cluster", "name": "warming"}}],
            },
            {
                "@type": f"{ADMIN}EndpointsConfigDump",
                "static_endpoint_configs": [{"endpoint_config": static_cla}],
                "dynamic_endpoint_configs": endpoints,
            },
            {
                "@type": f"{ADMIN}ListenersConfigDump",
                "version_info": "9625",
                "dynamic_listeners": [
                    {
                        "name": x["name"],
                        "active_state": {
                            "version_info": "9625",
                            "listener": {"@type": f"{V3}listener.v3.Listener", **x},
                            "last_updated": ts,
                        },
                    }
                    for x in snap["listeners"]
                ]
                + [{"name": "warming", "warming_state": {"listener": {"name": "warming"}}}],
            },
            {"@type": f"{ADMIN}ScopedRoutesConfigDump"},
            {
                "@type": f"{ADMIN}RoutesConfigDump",
                "dynamic_route_configs": [
                    {
                        "version_info": "2790",
                        "route_config": {"@type": f"{V3}route.v3.RouteConfiguration", **r},
                        "last_updated": ts,
                    }
                    for r in snap["routes"]
                ],
            },
            {"@type": f"{ADMIN}SecretsConfigDump"},
        ]
    }


def side(doc: Any, label: str = "OLD") -> Side:
    kind, proxies = read_document(doc, label)
    return Side(label, label.lower(), kind, {p.node_id: p for p in proxies})


def test_envoy_endpoint_defaults_are_dropped_and_real_values_kept() -> None:
    sent = {
        "cluster_name": "c",
        "endpoints": [
            {
                "locality": {},
                "lb_endpoints": [
                    {
                        "endpoint": {"address": {"socket_address": {"address": "10.0.0.1", "port_value": 80}}},
                        "health_status": "HEALTHY",
                        "load_balancing_weight": 1,
                    }
                ],
                "load_balancing_weight": 1,
            }
        ],
    }
    dumped = copy.deepcopy(sent)
    dumped["policy"] = {"overprovisioning_factor": 140}
    dumped["endpoints"][0]["lb_endpoints"][0]["endpoint"]["health_check_config"] = {}
    dumped["endpoints"][0]["lb_endpoints"][0]["metadata"] = {}
    assert light(ENDPOINTS, dumped) == light(ENDPOINTS, sent)
    assert dumped["policy"] == {"overprovisioning_factor": 140}  # inputs are never mutated

    different = copy.deepcopy(dumped)
    different["policy"]["overprovisioning_factor"] = 100000
    different["endpoints"][0]["lb_endpoints"][0]["health_status"] = "UNHEALTHY"
    different["endpoints"][0]["lb_endpoints"][0]["load_balancing_weight"] = 2
    different["endpoints"][0]["lb_endpoints"][0]["endpoint"]["health_check_config"] = {"port_value": 9}
    normal = light(ENDPOINTS, different)
    assert normal["policy"] == {"overprovisioning_factor": 100000}
    lb = normal["endpoints"][0]["lb_endpoints"][0]
    assert (lb["health_status"], lb["load_balancing_weight"]) == ("UNHEALTHY", 2)
    assert lb["endpoint"]["health_check_config"] == {"port_value": 9}


def test_other_types_keep_empty_messages() -> None:
    # An empty message is meaningful outside endpoints (e.g. it selects HTTP/2 upstream).
    cluster = {"name": "c", "typed_extension_protocol_options": {"x": {"http2_protocol_options": {}}}}
    assert light(CLUSTERS, cluster) is cluster


def test_canonical_erases_json_printer_differences() -> None:
    plain_form = translated()["routes"][0]
    envoy_printed = copy.deepcopy(plain_form)
    route = envoy_printed["virtual_hosts"][0]["routes"][0]
    route["route"]["timeout"] = "0.000s"  # the same Duration, printed another way
    route["route"]["retry_policy"]["host_selection_retry_max_attempts"] = 5  # int64 as a number
    md = route["metadata"]["filter_metadata"]
    assert list(md) == ["istio", "meshpilot"]
    route["metadata"]["filter_metadata"] = dict(reversed(md.items()))  # map keys in another order
    envoy_printed["field_from_a_newer_envoy"] = {"x": 1}  # unknown to xds-protos: ignored
    assert envoy_printed != plain_form
    assert canonical(ROUTES, envoy_printed, rendered=False) == canonical(ROUTES, plain_form, rendered=True)


def test_canonical_reports_what_does_not_parse() -> None:
    with pytest.raises(CanonicalError, match="per_connection_buffer_limit_bytes"):
        canonical(CLUSTERS, {"name": "c", "per_connection_buffer_limit_bytes": "lots"}, rendered=False)


def test_unknown_any_types_are_imported_from_their_package() -> None:
    # A fresh interpreter, so nothing imported the Mongo proxy filter's module before.
    code = """
import sys
from meshpilot.diff.normalize import canonical
module = "envoy.extensions.filters.network.mongo_proxy.v3.mongo_proxy_pb2"
assert module not in sys.modules
mongo = "type.googleapis.com/envoy.extensions.filters.network.mongo_proxy.v3.MongoProxy"
raw = {"name": "l", "filter_chains": [{"filters": [{"name": "mongo", "typed_config": {"@type": mongo,
       "stat_prefix": "s", "emit_dynamic_metadata": True, "unknown": 1}}]}]}
out = canonical("listeners", raw, rendered=False)
assert module in sys.modules
print(sorted(out["filter_chains"][0]["filters"][0]["typed_config"]))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['@type', 'emit_dynamic_metadata', 'stat_prefix']"


def test_envoy_dump_reads_only_what_came_over_xds() -> None:
    snap = translated()
    kind, [proxy] = read_document(as_envoy_dumps(snap), "x")
    assert kind == ENVOY_DUMP
    assert proxy.node_id == GW
    assert (dict(proxy.labels or {}), proxy.namespace) == ({"istio": "ingressgateway"}, "istio-system")
    assert list(proxy.resources[LISTENERS]) == [x["name"] for x in snap["listeners"]]  # not the warming one
    assert list(proxy.resources[CLUSTERS]) == sorted(c["name"] for c in snap["clusters"])  # no static/warming
    assert list(proxy.resources[ENDPOINTS]) == sorted(e["cluster_name"] for e in snap["endpoints"])
    assert any(c.get("type") != "EDS" for c in snap["clusters"])  # the aggregate's assignment was dropped
    assert "@type" not in proxy.resources[ROUTES]["http.8080"].raw


def test_envoy_dump_of_what_meshpilot_sent_compares_equal() -> None:
    snap = translated()
    result = compare(side(as_envoy_dumps(snap)), side(snap, "NEW"))
    assert not result.different, result.proxies
    # ...and a real difference still shows
    changed = copy.deepcopy(snap)
    changed["endpoints"][0]["endpoints"][0]["lb_endpoints"][0]["load_balancing_weight"] = 7
    result = compare(side(as_envoy_dumps(snap)), side(changed, "NEW"))
    [res] = result.proxies[0].resources
    assert (res.type, res.status) == (ENDPOINTS, "changed")
    assert [c.path for c in res.changes] == ["endpoints[0].lb_endpoints[0].load_balancing_weight"]


def test_envoy_dump_without_eds_does_not_compare_endpoints() -> None:
    dump = as_envoy_dumps(translated())
    dump["configs"] = [c for c in dump["configs"] if not c["@type"].endswith("EndpointsConfigDump")]
    result = compare(side(dump), side(translated(), "NEW"))
    assert not result.different
    assert result.proxies[0].not_compared == (ENDPOINTS,)
    assert any("?include_eds" in w for w in result.warnings)


def test_meshpilot_debug_dump_is_read() -> None:
    snap = translated()
    short = {"listeners": "LDS", "routes": "RDS", "clusters": "CDS", "endpoints": "EDS"}
    types = {
        "listeners": "listener.v3.Listener",
        "routes": "route.v3.RouteConfiguration",
        "clusters": "cluster.v3.Cluster",
        "endpoints": "endpoint.v3.ClusterLoadAssignment",
    }
    dump = {
        "node_id": GW,
        "resources": {
            short[t]: {"version": "abc", "resources": [{"@type": f"{V3}{types[t]}", **r} for r in snap[t]]}
            for t in short
        },
    }
    kind, [proxy] = read_document(json.loads(json.dumps(dump)), "x")
    assert kind == MESHPILOT_DUMP and proxy.labels is None
    assert not compare(side(dump), side(snap, "NEW")).different


def test_saved_snapshots_and_lists_of_them_are_read() -> None:
    snap = translated()
    other = {**snap, "node_id": "router~10.0.0.2~gw-2.istio-system~istio-system.svc.cluster.local"}
    kind, proxies = read_document([snap, other], "x")
    assert kind == SNAPSHOT and [p.node_id for p in proxies] == [GW, other["node_id"]]


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"hello": 1}, "is not a snapshot"),
        ([], "is not a snapshot"),
        ({"node_id": "x", "clusters": "nope"}, "is not a snapshot"),
        ({"node_id": "x", "clusters": [1]}, "expected a list of objects"),
        ({"configs": [{"@type": f"{ADMIN}ClustersConfigDump", "dynamic_active_clusters": 3}]}, "malformed"),
    ],
)
def test_documents_that_are_not_snapshots_are_user_errors(doc: Any, message: str) -> None:
    with pytest.raises(DiffInputError, match=message):
        read_document(doc, "OLD x.json")
