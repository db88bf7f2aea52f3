"""The kinds meshpilot understands and the decoded, immutable config objects."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from google.protobuf.message import Message

from meshpilot.api.kube.v1 import secret_pb2, service_pb2
from meshpilot.api.networking.v1 import (
    destination_rule_pb2,
    gateway_pb2,
    service_entry_pb2,
    sidecar_pb2,
    virtual_service_pb2,
    workload_entry_pb2,
)

ISTIO_GROUP = "networking.istio.io"
ISTIO_VERSIONS = ("v1", "v1beta1", "v1alpha3")


@dataclasses.dataclass(frozen=True)
class Kind:
    name: str
    group: str
    versions: tuple[str, ...]
    message: type[Message]
    # Istio's config path segment (istiod puts it into Envoy metadata, e.g. "virtual-service").
    path_segment: str

    @property
    def api_versions(self) -> tuple[str, ...]:
        return tuple(f"{self.group}/{v}" if self.group else v for v in self.versions)


GATEWAY = Kind("Gateway", ISTIO_GROUP, ISTIO_VERSIONS, gateway_pb2.Gateway, "gateway")
VIRTUAL_SERVICE = Kind(
    "VirtualService",
    ISTIO_GROUP,
    ISTIO_VERSIONS,
    virtual_service_pb2.VirtualService,
    "virtual-service",
)
DESTINATION_RULE = Kind(
    "DestinationRule",
    ISTIO_GROUP,
    ISTIO_VERSIONS,
    destination_rule_pb2.DestinationRule,
    "destination-rule",
)
SERVICE_ENTRY = Kind("ServiceEntry", ISTIO_GROUP, ISTIO_VERSIONS, service_entry_pb2.ServiceEntry, "service-entry")
WORKLOAD_ENTRY = Kind("WorkloadEntry", ISTIO_GROUP, ISTIO_VERSIONS, workload_entry_pb2.WorkloadEntry, "workload-entry")
SIDECAR = Kind("Sidecar", ISTIO_GROUP, ISTIO_VERSIONS, sidecar_pb2.Sidecar, "sidecar")
SERVICE = Kind("Service", "", ("v1",), service_pb2.Service, "service")
SECRET = Kind("Secret", "", ("v1",), secret_pb2.Secret, "secret")

KINDS: Mapping[str, Kind] = {
    k.name: k
    for k in (GATEWAY, VIRTUAL_SERVICE, DESTINATION_RULE, SERVICE_ENTRY, WORKLOAD_ENTRY, SIDECAR, SERVICE, SECRET)
}


@dataclasses.dataclass(frozen=True, order=True)
class ConfigKey:
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"

    @property
    def ref(self) -> str:
        """Istio-style config path, as istiod writes into Envoy metadata."""
        kind = KINDS[self.kind]
        group = kind.group or "core"
        return f"/apis/{group}/v1alpha3/namespaces/{self.namespace}/{kind.path_segment}/{self.name}"


@dataclasses.dataclass(frozen=True)
class Source:
    file: str
    doc: int  # 1-based index of the YAML document in the file

    def __str__(self) -> str:
        return f"{self.file} doc {self.doc}"


@dataclasses.dataclass(frozen=True)
class ConfigObject:
    """One decoded, validated object. `spec` is a protobuf message and must never be mutated."""

    key: ConfigKey
    spec: Message
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    source: Source
    digest: str  # content hash of apiVersion-independent content

    @property
    def kind(self) -> str:
        return self.key.kind

    @property
    def namespace(self) -> str:
        return self.key.namespace

    @property
    def name(self) -> str:
        return self.key.name
