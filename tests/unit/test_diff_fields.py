"""Field-level diff: paths, list matching by identity, moves, attribution."""

from __future__ import annotations

import itertools
import random
from typing import Any

from meshpilot.diff.fields import ADDED, CHANGED, MOVED, REMOVED, Change, _increasing, all_sources, diff_fields


def md(*sources: str) -> dict[str, Any]:
    return {"filter_metadata": {"meshpilot": {"sources": list(sources)}}}


def route(name: str, cluster: str = "c", vs: str = "VirtualService default/web", **extra: Any) -> dict[str, Any]:
    return {"match": {"prefix": "/" + name}, "route": {"cluster": cluster}, "metadata": md(vs), "name": name, **extra}


def weighted(*pairs: tuple[str, int]) -> dict[str, Any]:
    return {"weighted_clusters": {"clusters": [{"name": n, "weight": w} for n, w in pairs]}}


def rc(*vhosts: dict[str, Any]) -> dict[str, Any]:
    return {"name": "http.8080", "virtual_hosts": list(vhosts)}


def vhost(
    name: str, *routes: dict[str, Any], sources: tuple[str, ...] = ("Gateway istio-system/gw",)
) -> dict[str, Any]:
    return {"name": name, "domains": [name], "routes": list(routes), "metadata": md(*sources)}


def ops(changes: list[Change]) -> list[tuple[str, str]]:
    return [(c.op, c.path) for c in changes]


def test_equal_values_have_no_changes() -> None:
    doc = rc(vhost("a", route("r1"), route("r2")))
    assert diff_fields(doc, {**doc}) == []


def test_weight_change_has_the_full_path_old_and_new_value_and_the_route_sources() -> None:
    old = rc(vhost("*:80", route("h"), route("p"), {**route("split"), "route": weighted(("v1", 75), ("v2", 25))}))
    new = rc(vhost("*:80", route("h"), route("p"), {**route("split"), "route": weighted(("v1", 50), ("v2", 50))}))
    changes = diff_fields(old, new)
    assert changes == [
        Change(
            CHANGED,
            "virtual_hosts[0].routes[2].route.weighted_clusters.clusters[0].weight",
            75,
            50,
            ("VirtualService default/web",),
        ),
        Change(
            CHANGED,
            "virtual_hosts[0].routes[2].route.weighted_clusters.clusters[1].weight",
            25,
            50,
            ("VirtualService default/web",),
        ),
    ]


def test_inserting_a_route_is_one_change_not_a_cascade() -> None:
    routes = [route(f"r{i}", cluster=f"c{i}") for i in range(5)]
    new_routes = [*routes[:1], route("new", cluster="x"), *routes[1:]]
    changes = diff_fields(rc(vhost("a", *routes)), rc(vhost("a", *new_routes)))
    assert ops(changes) == [(ADDED, "virtual_hosts[0].routes[1]")]
    assert changes[0].new == new_routes[1]
    assert changes[0].sources == ("VirtualService default/web",)


def test_removing_a_route_reports_its_old_index() -> None:
    routes = [route(f"r{i}") for i in range(4)]
    changes = diff_fields(rc(vhost("a", *routes)), rc(vhost("a", *routes[:2], routes[3])))
    assert ops(changes) == [(REMOVED, "virtual_hosts[0].routes[2]")]
    assert changes[0].old["name"] == "r2"


def test_route_order_matters_so_a_reorder_is_a_move_and_changes_inside_follow_the_name() -> None:
    a, b, c = route("a"), route("b"), route("c")
    b2 = {**b, "route": {"cluster": "other"}}
    changes = diff_fields(rc(vhost("v", a, b, c)), rc(vhost("v", b2, a, c)))
    assert ops(changes) == [
        (MOVED, "virtual_hosts[0].routes[0]"),
        (CHANGED, "virtual_hosts[0].routes[0].route.cluster"),
    ]
    assert (changes[0].old, changes[0].new) == (1, 0)


def test_virtual_hosts_and_weighted_clusters_reordered_are_not_changes() -> None:
    old = rc(vhost("a", route("x")), vhost("b", {**route("y"), "route": weighted(("v1", 10), ("v2", 90))}))
    new = rc(vhost("b", {**route("y"), "route": weighted(("v2", 90), ("v1", 10))}), vhost("a", route("x")))
    assert diff_fields(old, new) == []


def test_weighted_cluster_matched_by_name_reports_new_index() -> None:
    old = {"route": weighted(("v1", 10), ("v2", 90))}
    new = {"route": weighted(("v3", 5), ("v2", 85), ("v1", 10))}
    assert ops(diff_fields(old, new)) == [
        (ADDED, "route.weighted_clusters.clusters[0]"),
        (CHANGED, "route.weighted_clusters.clusters[1].weight"),
    ]


def test_unnamed_filter_chains_are_compared_by_position() -> None:
    chain = {"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": {"x": 1}}]}
    old = {"name": "l", "filter_chains": [chain, chain]}
    changed = {"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": {"x": 2}}]}
    new = {"name": "l", "filter_chains": [chain, changed]}
    assert ops(diff_fields(old, new)) == [(CHANGED, "filter_chains[1].filters[0].typed_config.x")]


def test_named_filter_chains_are_matched_by_name() -> None:
    a = {"name": "a", "filters": [{"name": "f", "typed_config": {"x": 1}}]}
    b = {"name": "b", "filters": [{"name": "f", "typed_config": {"x": 1}}]}
    b2 = {"name": "b", "filters": [{"name": "f", "typed_config": {"x": 2}}]}
    assert ops(diff_fields({"filter_chains": [a, b]}, {"filter_chains": [b2, a]})) == [
        (CHANGED, "filter_chains[0].filters[0].typed_config.x")
    ]


def test_endpoints_are_matched_by_address_and_localities_by_locality() -> None:
    def ep(ip: str, w: int = 1) -> dict[str, Any]:
        return {"endpoint": {"address": {"socket_address": {"address": ip, "port_value": 80}}}, "weight": w}

    east = {"locality": {"zone": "east"}, "lb_endpoints": [ep("10.0.0.1"), ep("10.0.0.2")]}
    west = {"locality": {"zone": "west"}, "lb_endpoints": [ep("10.0.1.1")]}
    east2 = {"locality": {"zone": "east"}, "lb_endpoints": [ep("10.0.0.3"), ep("10.0.0.2", 5), ep("10.0.0.1")]}
    changes = diff_fields({"endpoints": [east, west]}, {"endpoints": [west, east2]})
    assert ops(changes) == [
        (ADDED, "endpoints[1].lb_endpoints[0]"),
        (CHANGED, "endpoints[1].lb_endpoints[1].weight"),
    ]


def test_scalar_lists_are_aligned() -> None:
    changes = diff_fields({"domains": ["a", "b", "c"]}, {"domains": ["a", "x", "b", "c"]})
    assert changes == [Change(ADDED, "domains[1]", new="x")]
    changes = diff_fields({"domains": ["a", "b"]}, {"domains": ["a", "z"]})
    assert changes == [Change(CHANGED, "domains[1]", "b", "z")]


def test_map_keys_that_are_not_identifiers_are_quoted() -> None:
    key = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
    old = {"typed_extension_protocol_options": {key: {"explicit_http_config": {"http_protocol_options": {}}}}}
    new = {"typed_extension_protocol_options": {key: {"explicit_http_config": {"http2_protocol_options": {}}}}}
    assert ops(diff_fields(old, new)) == [
        (REMOVED, f'typed_extension_protocol_options["{key}"].explicit_http_config.http_protocol_options'),
        (ADDED, f'typed_extension_protocol_options["{key}"].explicit_http_config.http2_protocol_options'),
    ]


def test_a_changed_any_type_is_one_change_of_the_whole_value() -> None:
    old = {"typed_config": {"@type": "type.googleapis.com/A", "x": 1}}
    new = {"typed_config": {"@type": "type.googleapis.com/B", "y": 2}}
    assert diff_fields(old, new) == [Change(CHANGED, "typed_config", old["typed_config"], new["typed_config"])]


def test_attribution_is_the_innermost_element_with_sources_else_the_given_ones() -> None:
    old = rc(vhost("a", route("r", vs="VirtualService ns/one"), sources=("Gateway g/gw", "VirtualService ns/one")))
    new = rc(vhost("a", route("r", vs="VirtualService ns/one", timeout="5s"), sources=("Gateway g/gw", "X y/z")))
    by_path = {c.path: c.sources for c in diff_fields(old, new)}
    assert by_path["virtual_hosts[0].routes[0].timeout"] == ("VirtualService ns/one",)
    # the virtual host's own metadata changed: old and new sources of that element
    assert by_path["virtual_hosts[0].metadata.filter_metadata.meshpilot.sources[1]"] == (
        "Gateway g/gw",
        "VirtualService ns/one",
        "X y/z",
    )
    # a load assignment has no metadata: the sources passed in (its cluster's) are used
    cla = {"cluster_name": "c", "endpoints": [{"lb_endpoints": []}]}
    changes = diff_fields(cla, {**cla, "cluster_name": "d"}, frozenset({"Service default/web"}))
    assert changes[0].sources == ("Service default/web",)


def test_an_added_element_is_attributed_to_its_own_sources() -> None:
    old = rc(vhost("a", route("r")))
    new = rc(vhost("a", route("r")), vhost("b", route("s", vs="VirtualService other/b"), sources=()))
    [change] = diff_fields(old, new)
    assert (change.op, change.path, change.sources) == (ADDED, "virtual_hosts[1]", ("VirtualService other/b",))


def test_all_sources_collects_nested_metadata() -> None:
    doc = rc(vhost("a", route("r", vs="VirtualService a/r")), vhost("b", route("s", vs="VirtualService b/s")))
    assert all_sources(doc) == {"Gateway istio-system/gw", "VirtualService a/r", "VirtualService b/s"}


def test_increasing_is_a_longest_increasing_subsequence() -> None:
    rng = random.Random(7)
    for n in range(8):
        for _ in range(20):
            seq = rng.sample(range(n), n)
            kept = _increasing(seq)
            in_order = [v for v in seq if v in kept]
            assert in_order == sorted(in_order)
            best = max(
                (len(c) for k in range(n + 1) for c in itertools.combinations(seq, k) if list(c) == sorted(c)),
                default=0,
            )
            assert len(kept) == best, seq
