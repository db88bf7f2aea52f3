"""Sans-IO state-of-the-world ADS protocol core: requests and snapshots in, actions out.

No sockets, no asyncio, no logging. The gRPC shell feeds `DiscoveryRequest`s and new
snapshots into a `SotwStream` and performs the returned actions (send, log). Rules
(DESIGN §5):
- ACK vs NACK is decided by `error_detail`; a NACK is never answered with the same content;
- a request whose nonce is not the latest sent for its type is stale and ignored;
- an ACK is not answered unless the subscribed names changed;
- a request without a nonce (new stream, reconnect) is answered, whatever version it carries;
- pushes go in CDS, EDS, LDS, RDS order; after any CDS push, EDS is re-sent for the
  subscribed clusters even if unchanged (a changed cluster stays warming until it gets EDS).
"""

from __future__ import annotations

import dataclasses

from envoy.service.discovery.v3 import discovery_pb2

from meshpilot.xds.snapshot import CLUSTER, ENDPOINT, PUSH_ORDER, WILDCARD_TYPES, Snapshot


@dataclasses.dataclass(frozen=True)
class Send:
    type_url: str
    version: str
    nonce: str
    names: frozenset[str] | None  # None = wildcard
    response: discovery_pb2.DiscoveryResponse


@dataclasses.dataclass(frozen=True)
class Acked:
    type_url: str
    version: str
    nonce: str


@dataclasses.dataclass(frozen=True)
class Nacked:
    type_url: str
    rejected_version: str  # what we sent with that nonce
    current_version: str  # what Envoy keeps using (the request's version_info)
    nonce: str
    message: str


@dataclasses.dataclass(frozen=True)
class Ignored:
    type_url: str
    nonce: str
    reason: str


Action = Send | Acked | Nacked | Ignored


@dataclasses.dataclass
class TypeState:
    names: frozenset[str] | None = None  # None = wildcard
    sent_version: str = ""
    sent_nonce: str = ""
    sent_names: frozenset[str] | None = None
    acked_version: str = ""
    nacked: Nacked | None = None
    sent_ever: bool = False


class SotwStream:
    """Protocol state of one ADS stream."""

    def __init__(self) -> None:
        self.types: dict[str, TypeState] = {}
        self.snapshot: Snapshot | None = None
        self._nonce = 0

    def _next_nonce(self) -> str:
        self._nonce += 1
        return str(self._nonce)

    def handle_request(self, req: discovery_pb2.DiscoveryRequest) -> list[Action]:
        type_url = req.type_url
        state = self.types.get(type_url)
        names = _requested_names(req)
        if req.response_nonce:
            if state is None or req.response_nonce != state.sent_nonce:
                return [Ignored(type_url, req.response_nonce, "stale nonce")]
            if req.HasField("error_detail"):
                nack = Nacked(
                    type_url,
                    rejected_version=state.sent_version,
                    current_version=req.version_info,
                    nonce=req.response_nonce,
                    message=req.error_detail.message,
                )
                state.nacked = nack
                state.names = names
                return [nack]
            state.acked_version = state.sent_version
            state.nacked = None
            out: list[Action] = [Acked(type_url, state.sent_version, req.response_nonce)]
            if names != state.sent_names:
                state.names = names
                out.extend(self._respond(type_url, force=True))
            return out
        # No nonce: a new subscription, or a reconnect (answered whatever version it carries).
        state = self.types.setdefault(type_url, TypeState())
        state.names = names
        return self._respond(type_url, force=True)

    def set_snapshot(self, snapshot: Snapshot) -> list[Action]:
        """A new snapshot for this proxy: push what changed, in CDS, EDS, LDS, RDS order."""
        self.snapshot = snapshot
        out: list[Action] = []
        cds_sent = False
        for type_url in PUSH_ORDER:
            if type_url not in self.types:
                continue
            force = type_url == ENDPOINT and cds_sent
            sends = self._respond(type_url, force=force)
            cds_sent = cds_sent or (type_url == CLUSTER and bool(sends))
            out.extend(sends)
        return out

    def _respond(self, type_url: str, *, force: bool) -> list[Action]:
        state = self.types[type_url]
        snap = self.snapshot
        if snap is None:
            return []
        unsubscribed = state.names is not None and not state.names and type_url not in WILDCARD_TYPES
        # Nothing subscribed (e.g. every cluster removed): answer only to confirm a removal.
        if unsubscribed and (not state.sent_ever or state.sent_names == state.names):
            return []
        version = snap.version(type_url, state.names)
        if not force and version == state.sent_version and state.names == state.sent_names:
            return []
        nonce = self._next_nonce()
        resp = discovery_pb2.DiscoveryResponse(version_info=version, type_url=type_url, nonce=nonce)
        resp.resources.extend(r.packed for r in snap.select(type_url, state.names))
        state.sent_version, state.sent_nonce, state.sent_names = version, nonce, state.names
        state.sent_ever = True
        return [Send(type_url, version, nonce, state.names, resp)]


def _requested_names(req: discovery_pb2.DiscoveryRequest) -> frozenset[str] | None:
    names = frozenset(req.resource_names)
    if req.type_url in WILDCARD_TYPES and (not names or "*" in names):
        return None
    return names
