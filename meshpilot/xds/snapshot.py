"""Snapshots: per-proxy resources by type, serialized once, versioned by content hash.

Versions are content hashes, never timestamps: unchanged input gives an unchanged version
(so nothing is pushed), and two replicas agree on versions.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.listener.v3 import listener_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import (
    http_connection_manager_pb2 as hcm_pb2,
)
from google.protobuf import any_pb2
from google.protobuf.message import Message

from meshpilot.translator.secrets import referenced_secrets

CLUSTER = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
ENDPOINT = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
LISTENER = "type.googleapis.com/envoy.config.listener.v3.Listener"
ROUTE = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
SECRET = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"
# The order of pushes on one ADS stream (DESIGN §5): CDS, EDS, LDS, RDS; then SDS, whose
# secrets Envoy asks for by name once listeners reference them.
PUSH_ORDER = (CLUSTER, ENDPOINT, LISTENER, ROUTE, SECRET)
# Types where an empty subscription means "everything" (SotW wildcard).
WILDCARD_TYPES = frozenset({CLUSTER, LISTENER})
SHORT_NAMES = {CLUSTER: "CDS", ENDPOINT: "EDS", LISTENER: "LDS", ROUTE: "RDS", SECRET: "SDS"}
_HCM = "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"


def short_type(type_url: str) -> str:
    return SHORT_NAMES.get(type_url, type_url.rsplit(".", 1)[-1])


@dataclasses.dataclass(frozen=True)
class Resource:
    name: str
    message: Message
    packed: any_pb2.Any  # serialized once, shared by every stream that sends it
    digest: str

    @classmethod
    def of(cls, name: str, message: Message) -> Resource:
        packed = any_pb2.Any()
        packed.Pack(message, deterministic=True)
        return cls(name, message, packed, hashlib.sha256(packed.value).hexdigest()[:16])


def version_of(resources: Iterable[Resource]) -> str:
    h = hashlib.sha256()
    for r in sorted(resources, key=lambda r: r.name):
        h.update(f"{r.name}\0{r.digest}\0".encode())
    return h.hexdigest()[:16]


@dataclasses.dataclass(frozen=True)
class Snapshot:
    resources: Mapping[str, Mapping[str, Resource]]
    versions: Mapping[str, str]

    def get(self, type_url: str) -> Mapping[str, Resource]:
        return self.resources.get(type_url, {})

    def select(self, type_url: str, names: frozenset[str] | None) -> list[Resource]:
        """Resources of a type; `names=None` means all (wildcard)."""
        by_name = self.get(type_url)
        if names is None:
            return list(by_name.values())
        return [by_name[n] for n in sorted(names) if n in by_name]

    def version(self, type_url: str, names: frozenset[str] | None) -> str:
        if names is None:
            return self.versions.get(type_url, version_of(()))
        return version_of(self.select(type_url, names))


class PackCache:
    """Packed resources by message *object*: the translator reuses unchanged clusters and load
    assignments across revisions (as the same objects), so they are not serialized again.
    Holding the message keeps its identity valid; entries not used by a build are dropped."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], tuple[Message, Resource]] = {}
        self._used: dict[tuple[str, str], tuple[Message, Resource]] = {}

    def resource(self, type_url: str, name: str, msg: Message) -> Resource:
        hit = self._entries.get((type_url, name)) or self._used.get((type_url, name))
        res = hit[1] if hit is not None and hit[0] is msg else Resource.of(name, msg)
        self._used[(type_url, name)] = (msg, res)
        return res

    def finish(self) -> None:
        """Keep what the last builds used (call between revisions)."""
        self._entries, self._used = self._used, {}


def build_snapshot(by_type: Mapping[str, Iterable[tuple[str, Message]]], packs: PackCache | None = None) -> Snapshot:
    resources: dict[str, Mapping[str, Resource]] = {}
    versions: dict[str, str] = {}
    for type_url in PUSH_ORDER:
        items = {
            name: packs.resource(type_url, name, msg) if packs is not None else Resource.of(name, msg)
            for name, msg in by_type.get(type_url, ())
        }
        resources[type_url] = MappingProxyType(dict(sorted(items.items())))
        versions[type_url] = version_of(items.values())
    return Snapshot(MappingProxyType(resources), MappingProxyType(versions))


def referenced_routes(listener: listener_pb2.Listener) -> set[str]:
    out = set()
    for chain in [*listener.filter_chains, listener.default_filter_chain]:
        for f in chain.filters:
            if f.typed_config.type_url.endswith(_HCM):
                hcm = hcm_pb2.HttpConnectionManager()
                f.typed_config.Unpack(hcm)
                if hcm.HasField("rds"):
                    out.add(hcm.rds.route_config_name)
    return out


def inconsistencies(snapshot: Snapshot) -> list[str]:
    """Names referenced but missing: every RDS name and SDS secret a listener uses and every EDS
    cluster's load assignment must be in the snapshot. Empty list = consistent."""
    missing: list[str] = []
    routes, secrets = snapshot.get(ROUTE), snapshot.get(SECRET)
    for name, res in snapshot.get(LISTENER).items():
        assert isinstance(res.message, listener_pb2.Listener)
        for what, refs, have in (
            ("route configuration", referenced_routes(res.message), routes),
            ("secret", referenced_secrets(res.message), secrets),
        ):
            missing.extend(f"listener {name} uses {what} {r}, which is missing" for r in sorted(refs) if r not in have)
    endpoints = snapshot.get(ENDPOINT)
    for name, res in snapshot.get(CLUSTER).items():
        c = res.message
        assert isinstance(c, cluster_pb2.Cluster)
        if c.type == cluster_pb2.Cluster.EDS and c.WhichOneof("cluster_discovery_type") == "type":
            eds_name = c.eds_cluster_config.service_name or name
            if eds_name not in endpoints:
                missing.append(f"cluster {name} has no load assignment {eds_name}")
    return missing
