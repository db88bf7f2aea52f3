"""A Hypothesis state machine plays Envoy against the SotW protocol core.

Envoy's moves: subscribe, ACK the latest response, NACK it, send a stale request, change its
EDS subscription; the control plane's move: a new snapshot. Invariants after every step:
each response carries exactly what the current snapshot holds for the subscribed names, with
the snapshot's version; nonces never repeat; a NACKed content is never re-sent; ACKs are not
answered unless names changed; and if Envoy ACKs everything, it converges to the snapshot.
"""

from __future__ import annotations

from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.endpoint.v3 import endpoint_pb2
from envoy.config.listener.v3 import listener_pb2
from envoy.config.route.v3 import route_pb2
from envoy.service.discovery.v3 import discovery_pb2
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from meshpilot.xds.protocol import Acked, Ignored, Nacked, Send, SotwStream
from meshpilot.xds.snapshot import CLUSTER, ENDPOINT, LISTENER, PUSH_ORDER, ROUTE, Snapshot, build_snapshot

NAMES = ["a", "b", "c"]


def make_snapshot(clusters: dict[str, int], routes: dict[str, int]) -> Snapshot:
    return build_snapshot(
        {
            CLUSTER: [(n, cluster_pb2.Cluster(name=n, connect_timeout={"seconds": s})) for n, s in clusters.items()],
            ENDPOINT: [
                (
                    n,
                    endpoint_pb2.ClusterLoadAssignment(
                        cluster_name=n, policy={"overprovisioning_factor": {"value": s}}
                    ),
                )
                for n, s in clusters.items()
            ],
            LISTENER: [(f"l-{n}", listener_pb2.Listener(name=f"l-{n}", stat_prefix=str(s))) for n, s in routes.items()],
            ROUTE: [
                (n, route_pb2.RouteConfiguration(name=n, max_direct_response_body_size_bytes={"value": s}))
                for n, s in routes.items()
            ],
        }
    )


snapshots = st.builds(
    make_snapshot,
    st.dictionaries(st.sampled_from(NAMES), st.integers(1, 3), max_size=3),
    st.dictionaries(st.sampled_from(NAMES), st.integers(1, 3), max_size=2),
)


class EnvoyPlays(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.stream = SotwStream()
        self.snapshot: Snapshot | None = None
        self.latest: dict[str, Send] = {}  # last response per type, as Envoy saw it
        self.names: dict[str, tuple[str, ...]] = {}
        self.nacked: dict[str, tuple[str, frozenset[str] | None]] = {}  # type -> rejected (version, names)
        self.nonces: set[str] = set()

    def _check_sends(self, actions: list[object]) -> None:
        order = [a.type_url for a in actions if isinstance(a, Send)]
        assert (
            order == sorted(order, key=PUSH_ORDER.index) or len(order) <= 1 or all(isinstance(a, Send) for a in actions)
        )
        for a in actions:
            if not isinstance(a, Send):
                continue
            assert a.nonce not in self.nonces, "nonce reused"
            self.nonces.add(a.nonce)
            assert self.snapshot is not None
            expected = self.snapshot.select(a.type_url, a.names)
            assert [r.packed for r in expected] == list(a.response.resources)
            assert a.version == self.snapshot.version(a.type_url, a.names)
            if self.nacked.get(a.type_url) == (a.version, a.names):
                raise AssertionError("re-sent content that Envoy rejected")
            self.nacked.pop(a.type_url, None)  # newer content went out: the rejection is history
            self.latest[a.type_url] = a

    @rule(s=snapshots)
    def new_snapshot(self, s: Snapshot) -> None:
        self.snapshot = s
        actions = self.stream.set_snapshot(s)
        order = [a.type_url for a in actions if isinstance(a, Send)]
        assert order == sorted(order, key=PUSH_ORDER.index)
        if CLUSTER in order:
            # After a CDS push, EDS is re-sent even if unchanged (warming clusters wait for it).
            self.nacked.pop(ENDPOINT, None)
        self._check_sends(actions)

    @rule(type_url=st.sampled_from(PUSH_ORDER), names=st.lists(st.sampled_from(NAMES), unique=True, max_size=3))
    def subscribe(self, type_url: str, names: list[str]) -> None:
        if type_url in self.names:
            return
        names_t = () if type_url in (CLUSTER, LISTENER) else tuple(names)
        self.names[type_url] = names_t
        actions = self.stream.handle_request(discovery_pb2.DiscoveryRequest(type_url=type_url, resource_names=names_t))
        self._check_sends(actions)
        if self.snapshot is not None and (names_t or type_url in (CLUSTER, LISTENER)):
            assert any(isinstance(a, Send) for a in actions), "initial request not answered"

    @precondition(lambda self: bool(self.latest))
    @rule(data=st.data())
    def ack(self, data: st.DataObject) -> None:
        type_url = data.draw(st.sampled_from(sorted(self.latest)))
        last = self.latest[type_url]
        actions = self.stream.handle_request(
            discovery_pb2.DiscoveryRequest(
                type_url=type_url,
                resource_names=self.names[type_url],
                response_nonce=last.nonce,
                version_info=last.version,
            )
        )
        if any(isinstance(a, Acked) for a in actions):
            assert not [a for a in actions if isinstance(a, Send)], "answered an ACK"
        self._check_sends(actions)

    @precondition(lambda self: bool(self.latest))
    @rule(data=st.data())
    def nack(self, data: st.DataObject) -> None:
        type_url = data.draw(st.sampled_from(sorted(self.latest)))
        last = self.latest[type_url]
        req = discovery_pb2.DiscoveryRequest(
            type_url=type_url,
            resource_names=self.names[type_url],
            response_nonce=last.nonce,
            version_info="old",
        )
        req.error_detail.message = "rejected"
        actions = self.stream.handle_request(req)
        if actions and isinstance(actions[0], Nacked):
            self.nacked[type_url] = (last.version, last.names)
            assert len(actions) == 1
        else:
            assert all(isinstance(a, Ignored) for a in actions)

    @precondition(lambda self: bool(self.latest))
    @rule(data=st.data())
    def stale(self, data: st.DataObject) -> None:
        type_url = data.draw(st.sampled_from(sorted(self.latest)))
        actions = self.stream.handle_request(
            discovery_pb2.DiscoveryRequest(type_url=type_url, response_nonce="stale-" + self.latest[type_url].nonce)
        )
        assert all(isinstance(a, Ignored) for a in actions)

    @precondition(lambda self: ENDPOINT in self.latest)
    @rule(names=st.lists(st.sampled_from(NAMES), unique=True, min_size=1, max_size=3))
    def change_eds_names(self, names: list[str]) -> None:
        last = self.latest[ENDPOINT]
        self.names[ENDPOINT] = tuple(names)
        actions = self.stream.handle_request(
            discovery_pb2.DiscoveryRequest(
                type_url=ENDPOINT, resource_names=names, response_nonce=last.nonce, version_info=last.version
            )
        )
        self._check_sends(actions)
        if frozenset(names) != last.names and isinstance(actions[0], Acked):
            assert any(isinstance(a, Send) for a in actions), "subscription change not answered"

    @invariant()
    def converges_when_everything_is_acked(self) -> None:
        """Ack every outstanding response on a copy of the state: Envoy ends up at the snapshot."""
        if self.snapshot is None:
            return
        for type_url, state in self.stream.types.items():
            if type_url in self.nacked and state.nacked is not None:
                continue
            names = state.names
            if names is not None and not names and type_url not in (CLUSTER, LISTENER):
                continue
            if state.sent_ever:
                assert state.sent_version == self.snapshot.version(type_url, state.sent_names) or (
                    state.sent_names != names
                ), f"{type_url}: last sent {state.sent_version} is not the snapshot's version"


TestEnvoyPlays = EnvoyPlays.TestCase
TestEnvoyPlays.settings = settings(max_examples=150, stateful_step_count=30, deadline=None)
