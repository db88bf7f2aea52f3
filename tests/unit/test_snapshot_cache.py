"""Snapshots are versioned by content, checked for consistency, and shared per proxy group."""

from __future__ import annotations

import dataclasses
import pathlib

from envoy.config.cluster.v3 import cluster_pb2

from meshpilot.model.loader import ConfigLoader
from meshpilot.model.proxy import parse_proxy
from meshpilot.model.store import ConfigStore
from meshpilot.translator import Translation
from meshpilot.xds.cache import SnapshotCache, snapshot_of
from meshpilot.xds.snapshot import CLUSTER, ENDPOINT, LISTENER, ROUTE, build_snapshot, inconsistencies

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples" / "config"
GW = "router~10.0.0.1~gw-{}.istio-system~istio-system.svc.cluster.local"
LABELS = {"LABELS": {"istio": "ingressgateway"}}


def example_store(edit: str = "") -> ConfigStore:
    files = {p.name: p.read_text() for p in EXAMPLES.glob("*.yaml")}
    if edit:
        files["echo-routing.yaml"] = files["echo-routing.yaml"].replace("weight: 80", f"weight: {edit}")
    return ConfigLoader().load(files).store


def test_versions_are_content_hashes_stable_across_builds() -> None:
    proxy = parse_proxy(GW.format(1), LABELS)
    a, b = SnapshotCache(), SnapshotCache()
    a.set_store(example_store())
    b.set_store(example_store())
    pa, pb = a.register(proxy).published, b.register(proxy).published
    assert pa is not None and pb is not None
    assert dict(pa.snapshot.versions) == dict(pb.snapshot.versions)  # two replicas agree
    assert all(len(v) == 16 for v in pa.snapshot.versions.values())


def test_unchanged_input_is_not_a_change_and_an_edit_changes_only_routes() -> None:
    proxy = parse_proxy(GW.format(1), LABELS)
    cache = SnapshotCache()
    cache.set_store(example_store())
    first = cache.register(proxy).published
    (same,) = cache.set_store(example_store())
    assert not same.changed
    (edited,) = cache.set_store(example_store(edit="70"))
    assert edited.changed and edited.published is not None and first is not None
    new, old = edited.published.snapshot.versions, first.snapshot.versions
    assert new[ROUTE] != old[ROUTE]
    assert new[CLUSTER] == old[CLUSTER] and new[LISTENER] == old[LISTENER] and new[ENDPOINT] == old[ENDPOINT]


def test_identical_proxies_share_one_serialized_snapshot() -> None:
    cache = SnapshotCache()
    cache.set_store(example_store())
    one = cache.register(parse_proxy(GW.format(1), LABELS)).published
    two = cache.register(parse_proxy(GW.format(2), LABELS)).published
    assert one is two  # same object: translated and serialized once
    other = cache.register(parse_proxy(GW.format(3), {"LABELS": {"istio": "other"}})).published
    assert other is not one


def test_consistency_check_names_missing_routes_and_endpoints() -> None:
    t = Translation((), (), (), (), ())
    ok = snapshot_of(t)
    assert inconsistencies(ok) == []
    cache = SnapshotCache()
    cache.set_store(example_store())
    pub = cache.register(parse_proxy(GW.format(1), LABELS)).published
    assert pub is not None
    listeners = [r.message for r in pub.snapshot.get(LISTENER).values()]
    clusters = [r.message for r in pub.snapshot.get(CLUSTER).values()]
    broken = build_snapshot({LISTENER: [(x.name, x) for x in listeners], CLUSTER: [(c.name, c) for c in clusters]})
    missing = inconsistencies(broken)
    assert "listener 0.0.0.0_8080 uses route configuration http.8080, which is missing" in missing
    assert (
        "cluster outbound|80|v1|echo.default.svc.cluster.local has no load assignment "
        "outbound|80|v1|echo.default.svc.cluster.local" in missing
    )
    # Aggregate and DNS clusters need no load assignment.
    assert not any(m.startswith("cluster fallback|") for m in missing)


def test_inconsistent_snapshot_is_not_published_and_the_last_good_stays() -> None:
    drop_routes = {"on": False}

    def hook(proxy: object, t: Translation) -> Translation:
        return dataclasses.replace(t, routes=()) if drop_routes["on"] else t

    proxy = parse_proxy(GW.format(1), LABELS)
    cache = SnapshotCache(hook)
    cache.set_store(example_store())
    good = cache.register(proxy).published
    drop_routes["on"] = True
    (update,) = cache.set_store(example_store(edit="60"))
    assert update.inconsistent == ("listener 0.0.0.0_8080 uses route configuration http.8080, which is missing",)
    assert not update.changed
    assert cache.get(proxy) is good


def test_unregister_drops_group_state() -> None:
    cache = SnapshotCache()
    cache.set_store(example_store())
    proxy = parse_proxy(GW.format(1), LABELS)
    cache.register(proxy)
    cache.register(proxy)
    cache.unregister(proxy)
    assert cache.get(proxy) is not None
    cache.unregister(proxy)
    assert cache.get(proxy) is None


def test_resources_are_packed_deterministically() -> None:
    c = cluster_pb2.Cluster(name="x")
    c.metadata.filter_metadata["b"].update({"z": 1, "a": 2})
    one = build_snapshot({CLUSTER: [("x", c)]})
    two = build_snapshot({CLUSTER: [("x", cluster_pb2.Cluster.FromString(c.SerializeToString()))]})
    assert one.versions == two.versions
    assert one.get(CLUSTER)["x"].packed.value == two.get(CLUSTER)["x"].packed.value


def test_unchanged_clusters_are_not_serialized_again_across_revisions() -> None:
    proxy = parse_proxy(GW.format(1), LABELS)
    cache = SnapshotCache()
    cache.set_store(example_store())
    first = cache.register(proxy).published
    (update,) = cache.set_store(example_store(edit="70"))  # a route change: clusters untouched
    assert first is not None and update.published is not None
    old, new = first.snapshot.get(CLUSTER), update.published.snapshot.get(CLUSTER)
    assert set(old) == set(new)
    # Service clusters come from the translator's memo as the same objects: packed once.
    outbound = [name for name in old if name.startswith("outbound|")]
    assert outbound and all(new[name] is old[name] for name in outbound)
    assert new is not old and update.published.snapshot.versions[ROUTE] != first.snapshot.versions[ROUTE]
