"""The SotW ADS protocol core, one test per rule of DESIGN §5 (no sockets)."""

from __future__ import annotations

from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.endpoint.v3 import endpoint_pb2
from envoy.config.listener.v3 import listener_pb2
from envoy.config.route.v3 import route_pb2
from envoy.service.discovery.v3 import discovery_pb2
from google.rpc import status_pb2

from meshpilot.xds.protocol import Acked, Ignored, Nacked, Send, SotwStream
from meshpilot.xds.snapshot import CLUSTER, ENDPOINT, LISTENER, PUSH_ORDER, ROUTE, Snapshot, build_snapshot


def snap(
    clusters: dict[str, int], routes: tuple[str, ...] = ("http.80",), listeners: tuple[str, ...] = ("l",)
) -> Snapshot:
    """clusters: name -> connect timeout seconds (changing it changes the content)."""
    return build_snapshot(
        {
            CLUSTER: [(n, cluster_pb2.Cluster(name=n, connect_timeout={"seconds": s})) for n, s in clusters.items()],
            ENDPOINT: [(n, endpoint_pb2.ClusterLoadAssignment(cluster_name=n)) for n in clusters],
            LISTENER: [(n, listener_pb2.Listener(name=n)) for n in listeners],
            ROUTE: [(n, route_pb2.RouteConfiguration(name=n)) for n in routes],
        }
    )


def req(
    type_url: str, names: tuple[str, ...] = (), nonce: str = "", version: str = "", error: str = ""
) -> discovery_pb2.DiscoveryRequest:
    r = discovery_pb2.DiscoveryRequest(
        type_url=type_url, resource_names=list(names), response_nonce=nonce, version_info=version
    )
    if error:
        r.error_detail.CopyFrom(status_pb2.Status(code=3, message=error))
    return r


def sends(actions: list[object]) -> list[Send]:
    return [a for a in actions if isinstance(a, Send)]


def subscribed_stream(s: Snapshot) -> tuple[SotwStream, Send]:
    stream = SotwStream()
    stream.set_snapshot(s)
    (first,) = sends(stream.handle_request(req(CLUSTER)))
    return stream, first


def test_initial_request_is_answered_with_every_cluster() -> None:
    s = snap({"a": 1, "b": 1})
    _, first = subscribed_stream(s)
    assert first.type_url == CLUSTER
    assert first.version == s.versions[CLUSTER]
    assert sorted(r.type_url for r in first.response.resources) == [CLUSTER, CLUSTER]
    assert first.response.nonce == first.nonce != ""


def test_ack_is_not_answered() -> None:
    stream, first = subscribed_stream(snap({"a": 1}))
    actions = stream.handle_request(req(CLUSTER, nonce=first.nonce, version=first.version))
    assert actions == [Acked(CLUSTER, first.version, first.nonce)]
    assert stream.types[CLUSTER].acked_version == first.version


def test_nack_is_decided_by_error_detail_not_version_and_not_answered() -> None:
    stream, first = subscribed_stream(snap({"a": 1}))
    # A NACK carries the previous version (here: none), the nonce of the rejected response.
    actions = stream.handle_request(req(CLUSTER, nonce=first.nonce, version="", error="bad cluster"))
    assert actions == [Nacked(CLUSTER, first.version, "", first.nonce, "bad cluster")]
    # Same version but with error_detail is still a NACK.
    stream2, first2 = subscribed_stream(snap({"a": 1}))
    (nack,) = stream2.handle_request(req(CLUSTER, nonce=first2.nonce, version=first2.version, error="x"))
    assert isinstance(nack, Nacked)


def test_nacked_content_is_never_resent_but_new_content_is() -> None:
    s = snap({"a": 1})
    stream, first = subscribed_stream(s)
    stream.handle_request(req(CLUSTER, nonce=first.nonce, error="bad"))
    assert sends(stream.set_snapshot(snap({"a": 1}))) == []  # same content again: nothing
    (fixed,) = sends(stream.set_snapshot(snap({"a": 2})))
    assert fixed.type_url == CLUSTER and fixed.version != first.version


def test_stale_nonce_is_ignored() -> None:
    stream, first = subscribed_stream(snap({"a": 1}))
    (second,) = [x for x in sends(stream.set_snapshot(snap({"a": 2}))) if x.type_url == CLUSTER]
    # Envoy's ACK of the first response arrives after we sent the second: stale.
    actions = stream.handle_request(req(CLUSTER, nonce=first.nonce, version=first.version))
    assert actions == [Ignored(CLUSTER, first.nonce, "stale nonce")]
    assert stream.types[CLUSTER].acked_version == ""
    # A stale NACK is ignored too, it does not mark the newer response as rejected.
    assert isinstance(stream.handle_request(req(CLUSTER, nonce=first.nonce, error="old"))[0], Ignored)
    assert stream.types[CLUSTER].nacked is None
    assert isinstance(stream.handle_request(req(CLUSTER, nonce=second.nonce, version=second.version))[0], Acked)


def test_reconnect_with_old_version_is_answered() -> None:
    s = snap({"a": 1})
    _, first = subscribed_stream(s)
    # A new stream: Envoy sends the version it already has and no nonce. It must be answered.
    stream = SotwStream()
    stream.set_snapshot(s)
    (again,) = sends(stream.handle_request(req(CLUSTER, version=first.version)))
    assert again.version == first.version


def test_new_stream_does_not_inherit_nonces() -> None:
    _, first = subscribed_stream(snap({"a": 1}))
    stream = SotwStream()
    stream.set_snapshot(snap({"a": 1}))
    # A request carrying a nonce this stream never sent is stale, not an ACK.
    assert isinstance(stream.handle_request(req(CLUSTER, nonce=first.nonce))[0], Ignored)


def test_unchanged_content_pushes_nothing() -> None:
    stream, first = subscribed_stream(snap({"a": 1}))
    stream.handle_request(req(CLUSTER, nonce=first.nonce, version=first.version))
    assert sends(stream.set_snapshot(snap({"a": 1}))) == []


def test_endpoints_are_per_name_and_names_change_is_answered() -> None:
    s = snap({"a": 1, "b": 1})
    stream = SotwStream()
    stream.set_snapshot(s)
    (eds,) = sends(stream.handle_request(req(ENDPOINT, ("a",))))
    assert [r.type_url for r in eds.response.resources] == [ENDPOINT]
    assert eds.names == frozenset({"a"})
    assert eds.version == s.version(ENDPOINT, frozenset({"a"}))
    # ACK that also subscribes to b: answered with a and b.
    actions = stream.handle_request(req(ENDPOINT, ("a", "b"), nonce=eds.nonce, version=eds.version))
    (more,) = sends(actions)
    assert len(more.response.resources) == 2
    # ACK with the same names: not answered.
    assert sends(stream.handle_request(req(ENDPOINT, ("a", "b"), nonce=more.nonce, version=more.version))) == []


def test_listeners_and_clusters_are_full_state_wildcard() -> None:
    s = snap({"a": 1, "b": 1})
    stream = SotwStream()
    stream.set_snapshot(s)
    (star,) = sends(stream.handle_request(req(CLUSTER, ("*",))))
    assert len(star.response.resources) == 2 and star.names is None
    # Removing a cluster sends the full remaining set: omitted means deleted.
    stream.handle_request(req(CLUSTER, ("*",), nonce=star.nonce, version=star.version))
    (after,) = [x for x in sends(stream.set_snapshot(snap({"a": 1}))) if x.type_url == CLUSTER]
    assert len(after.response.resources) == 1


def test_push_order_is_cds_eds_lds_rds() -> None:
    stream = SotwStream()
    stream.set_snapshot(snap({"a": 1}))
    # Envoy subscribes in an arbitrary order.
    for type_url, names in ((ROUTE, ("http.80",)), (LISTENER, ()), (ENDPOINT, ("a",)), (CLUSTER, ())):
        (s,) = sends(stream.handle_request(req(type_url, names)))
        stream.handle_request(req(type_url, names, nonce=s.nonce, version=s.version))
    changed = snap({"a": 2}, routes=("http.80",), listeners=("l", "l2"))
    order = [s.type_url for s in sends(stream.set_snapshot(changed))]
    assert order == [CLUSTER, ENDPOINT, LISTENER]
    assert order == [t for t in PUSH_ORDER if t in order]


def test_eds_is_resent_after_any_cds_push_even_if_unchanged() -> None:
    stream = SotwStream()
    stream.set_snapshot(snap({"a": 1}))
    for type_url, names in ((CLUSTER, ()), (ENDPOINT, ("a",))):
        (s,) = sends(stream.handle_request(req(type_url, names)))
        stream.handle_request(req(type_url, names, nonce=s.nonce, version=s.version))
    # Only the cluster changes (timeout); its endpoints are identical, but a changed cluster
    # stays warming until EDS arrives, so EDS must be re-sent without waiting for the CDS ACK.
    pushed = sends(stream.set_snapshot(snap({"a": 5})))
    assert [s.type_url for s in pushed] == [CLUSTER, ENDPOINT]
    assert pushed[1].version == stream.types[ENDPOINT].sent_version


def test_no_snapshot_no_answer_until_one_exists() -> None:
    stream = SotwStream()
    assert stream.handle_request(req(CLUSTER)) == []
    (s,) = sends(stream.set_snapshot(snap({"a": 1})))
    assert s.type_url == CLUSTER


def test_unknown_route_names_get_an_empty_answer() -> None:
    stream = SotwStream()
    stream.set_snapshot(snap({"a": 1}))
    (s,) = sends(stream.handle_request(req(ROUTE, ("http.9999",))))
    assert len(s.response.resources) == 0


def test_nonces_are_unique_per_stream() -> None:
    stream = SotwStream()
    stream.set_snapshot(snap({"a": 1}))
    nonces = [s.nonce for t in PUSH_ORDER for s in sends(stream.handle_request(req(t, ("a", "http.80"))))]
    for i in range(2, 6):
        nonces += [s.nonce for s in sends(stream.set_snapshot(snap({"a": i})))]
    assert len(nonces) == len(set(nonces))
