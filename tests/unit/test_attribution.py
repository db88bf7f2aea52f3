"""NACK attribution: which meshpilot objects produced the resources a proxy rejected."""

from __future__ import annotations

from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.endpoint.v3 import endpoint_pb2

from meshpilot.translator.envoy import attribution
from meshpilot.xds.attribution import objects_for
from meshpilot.xds.snapshot import CLUSTER, ENDPOINT, Resource


def cluster(name: str, source: str, timeout: int = 1) -> Resource:
    return Resource.of(
        name,
        cluster_pb2.Cluster(name=name, connect_timeout={"seconds": timeout}, metadata=attribution([source])),
    )


A = cluster("outbound|80||a", "Service default/a")
B = cluster("outbound|80||b", "ServiceEntry default/b")
B2 = cluster("outbound|80||b", "ServiceEntry default/b", timeout=2)


def test_resources_named_in_envoy_message_win() -> None:
    error = "Error adding/updating cluster(s) outbound|80||a: bad"
    assert objects_for(CLUSTER, [A, B], {}, error) == ["Service default/a"]


def test_otherwise_the_resources_changed_since_the_last_accepted_version() -> None:
    assert objects_for(CLUSTER, [A, B2], {}, "Invalid duration", accepted=[A, B]) == ["ServiceEntry default/b"]


def test_otherwise_everything_in_the_response() -> None:
    assert objects_for(CLUSTER, [A, B], {}, "something") == ["Service default/a", "ServiceEntry default/b"]


def test_load_assignments_are_attributed_through_their_cluster() -> None:
    cla = Resource.of("outbound|80||b", endpoint_pb2.ClusterLoadAssignment(cluster_name="outbound|80||b"))
    assert objects_for(ENDPOINT, [cla], {B.name: B}, "x") == ["ServiceEntry default/b"]
