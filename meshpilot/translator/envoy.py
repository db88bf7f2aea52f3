"""Small builders for Envoy protos shared by the translator modules."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any

from envoy.config.core.v3 import address_pb2, base_pb2, config_source_pb2
from google.protobuf import any_pb2, duration_pb2, struct_pb2
from google.protobuf.message import Message


def to_any(msg: Message) -> any_pb2.Any:
    out = any_pb2.Any()
    out.Pack(msg)
    return out


def duration(seconds: float = 0, nanos_total: int | None = None) -> duration_pb2.Duration:
    total = nanos_total if nanos_total is not None else round(seconds * 1_000_000_000)
    s, n = divmod(total, 1_000_000_000)
    return duration_pb2.Duration(seconds=s, nanos=n)


def socket_address(address: str, port: int) -> address_pb2.Address:
    """A TCP address, or a Unix domain socket for `unix:///path` (as Istio's WorkloadEntry)."""
    if address.startswith("unix://"):
        return address_pb2.Address(pipe=address_pb2.Pipe(path=address.removeprefix("unix://")))
    return address_pb2.Address(socket_address=address_pb2.SocketAddress(address=address, port_value=port))


def ads_config_source() -> config_source_pb2.ConfigSource:
    return config_source_pb2.ConfigSource(
        ads=config_source_pb2.AggregatedConfigSource(),
        initial_fetch_timeout=duration(0),
        resource_api_version=config_source_pb2.V3,
    )


def metadata(filters: Mapping[str, Mapping[str, Any]]) -> base_pb2.Metadata:
    md = base_pb2.Metadata()
    for name, fields in sorted(filters.items()):
        s = struct_pb2.Struct()
        s.update(dict(fields))
        md.filter_metadata[name].CopyFrom(s)
    return md


def attribution(sources: Iterable[str], istio_config: str = "") -> base_pb2.Metadata:
    """Metadata naming the meshpilot objects a resource came from (and istiod's `config` key).
    Shared: callers copy it into their resources (protobuf assignment copies), never mutate it."""
    return _attribution(tuple(sorted(set(sources))), istio_config)


@functools.lru_cache(maxsize=65536)
def _attribution(sources: tuple[str, ...], istio_config: str) -> base_pb2.Metadata:
    filters: dict[str, dict[str, Any]] = {"meshpilot": {"sources": list(sources)}}
    if istio_config:
        filters["istio"] = {"config": istio_config}
    return metadata(filters)
