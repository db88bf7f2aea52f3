"""Translator rules that are easy to get wrong, each pinned by a small case."""

from __future__ import annotations

from meshpilot.api.networking.v1 import destination_rule_pb2 as dr_pb2
from meshpilot.api.networking.v1 import virtual_service_pb2 as vs_pb2
from meshpilot.model.loader import ConfigLoader
from meshpilot.model.proxy import parse_proxy
from meshpilot.model.registry import Endpoint
from meshpilot.translator import build_context
from meshpilot.translator.clusters import load_assignment
from meshpilot.translator.delegate import merge_match
from meshpilot.translator.locality import plan
from meshpilot.translator.scope import build_scope

MESH = """
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: istio-system}
spec: {egress: [{hosts: ["~/*"]}]}
---
apiVersion: v1
kind: Service
metadata: {name: a, namespace: default}
spec: {ports: [{port: 80}]}
"""


def test_sidecar_resources_never_apply_to_gateways() -> None:
    ctx = build_context(ConfigLoader().load({"m.yaml": MESH}).store)
    gw = parse_proxy("router~10.0.0.1~gw-1.istio-system~istio-system.svc.cluster.local", {})
    sc = parse_proxy("sidecar~10.0.0.2~app-1.istio-system~istio-system.svc.cluster.local", {})
    assert [s.hostname for s in build_scope(ctx, gw).services] == ["a.default.svc.cluster.local"]
    assert build_scope(ctx, sc).services == ()  # the root Sidecar hides everything from sidecars


def test_sidecars_with_different_addresses_do_not_share_a_translation() -> None:
    a = parse_proxy("sidecar~127.0.0.11~x-1.default~default.svc.cluster.local", {"LABELS": {"app": "x"}})
    b = parse_proxy("sidecar~127.0.0.12~x-2.default~default.svc.cluster.local", {"LABELS": {"app": "x"}})
    g1 = parse_proxy("router~10.0.0.1~gw-1.istio-system~istio-system.svc.cluster.local", {})
    g2 = parse_proxy("router~10.0.0.2~gw-2.istio-system~istio-system.svc.cluster.local", {})
    assert a.group_key != b.group_key
    assert g1.group_key == g2.group_key


def test_locality_distribute_shares_a_patterns_weight() -> None:
    policy = dr_pb2.TrafficPolicy()
    rule = policy.load_balancer.locality_lb_setting.distribute.add(**{"from": "us-west/*"})
    rule.to["us-west/*"] = 80
    rule.to["us-east/*"] = 20
    proxy = parse_proxy("router~1.1.1.1~gw-1.ns~ns.svc.cluster.local", {}, "us-west/z1")
    eps = [
        Endpoint(f"10.0.0.{i}", 80, {}, locality=loc)
        for i, loc in enumerate(["us-west/z1", "us-west/z2", "us-east/z1"])
    ]
    cla = load_assignment("c", eps, locality_plan=plan(policy, proxy))
    weights = {f"{g.locality.region}/{g.locality.zone}": g.load_balancing_weight.value for g in cla.endpoints}
    assert weights == {"us-west/z1": 4000, "us-west/z2": 4000, "us-east/z1": 2000}  # 40/40/20


def test_delegate_routes_keep_where_the_root_applies() -> None:
    root = vs_pb2.HTTPMatchRequest(gateways=["gw"], source_labels={"lane": "blue"}, source_namespace="ns")
    root.uri.prefix = "/a"
    child = vs_pb2.HTTPMatchRequest()
    child.uri.prefix = "/a/b"
    merged = merge_match(root, child)
    assert merged is not None
    assert list(merged.gateways) == ["gw"] and dict(merged.source_labels) == {"lane": "blue"}
    assert merged.source_namespace == "ns" and merged.uri.prefix == "/a/b"


MEMO_BASE = """
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec: {selector: {app: web}, ports: [{name: http, port: 80}]}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: web-1, namespace: default}
spec: {address: 10.0.0.1, labels: {app: web, version: v1}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web, namespace: default}
spec: {host: web, subsets: [{name: v1, labels: {version: v1}}]}
"""


def test_cluster_memo_sees_endpoint_and_rule_changes() -> None:
    from meshpilot.translator import translate
    from meshpilot.translator.clusters import ClusterMemo
    from meshpilot.translator.render import plain_all

    gw = parse_proxy("router~10.0.0.9~gw-1.istio-system~istio-system.svc.cluster.local", {})
    memo = ClusterMemo()
    edits = [
        MEMO_BASE,
        MEMO_BASE + "---\n" + MEMO_BASE.split("---")[1].replace("web-1", "web-2").replace("10.0.0.1", "10.0.0.2"),
        MEMO_BASE.replace("labels: {version: v1}}]", "labels: {version: v2}}]"),
        MEMO_BASE.replace("spec: {host: web,", "spec: {host: web, trafficPolicy: {loadBalancer: {simple: RANDOM}},"),
    ]
    for text in edits:
        ctx = build_context(ConfigLoader().load({"m.yaml": text}).store)
        with_memo, fresh = translate(ctx, gw, memo), translate(ctx, gw)
        for a, b in ((with_memo.clusters, fresh.clusters), (with_memo.endpoints, fresh.endpoints)):
            assert plain_all(a) == plain_all(b), text
