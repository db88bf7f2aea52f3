"""Prometheus metrics, `meshpilot_` prefix, named after istiod's where one exists."""

from __future__ import annotations

import contextlib

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

CONFIG_OBJECTS = Gauge("meshpilot_config_objects", "Valid config objects by kind.", ["kind"], registry=REGISTRY)
CONFIG_REJECTED = Counter(
    "meshpilot_config_rejected_total",
    "Config documents rejected (decode or validation errors).",
    ["kind"],
    registry=REGISTRY,
)
CONFIG_LOADS = Counter("meshpilot_config_loads_total", "Config loads by outcome.", ["outcome"], registry=REGISTRY)
CONFIG_LAST_LOAD = Gauge(
    "meshpilot_config_last_load_timestamp_seconds",
    "Unix time of the last config load without rejected documents.",
    registry=REGISTRY,
)
PROXIES = Gauge(
    "meshpilot_xds_connected_proxies",
    "Connected proxies by type.",
    ["proxy_type"],
    registry=REGISTRY,
)
PUSHES = Counter(
    "meshpilot_xds_pushes_total",
    "xDS responses sent, by type and outcome.",
    ["type", "outcome"],
    registry=REGISTRY,
)
NACKS = Counter(
    "meshpilot_xds_rejects_total",
    "xDS responses rejected by proxies (NACKs), by type (istiod: pilot_total_xds_rejects).",
    ["type"],
    registry=REGISTRY,
)
PUSH_BYTES = Counter(
    "meshpilot_xds_push_bytes_total",
    "Bytes of xDS responses sent, by type.",
    ["type"],
    registry=REGISTRY,
)
INCONSISTENT = Counter(
    "meshpilot_snapshot_inconsistent_total",
    "Snapshots refused because a referenced name was missing.",
    registry=REGISTRY,
)
TRANSLATE_SECONDS = Histogram(
    "meshpilot_translate_duration_seconds",
    "Time to retranslate all connected proxy groups after a config change.",
    registry=REGISTRY,
)
CONFIG_REJECTED_NOW = Gauge(
    "meshpilot_config_rejected_documents",
    "Documents rejected by the latest config load, by kind (0 once fixed).",
    ["kind"],
    registry=REGISTRY,
)
CONFIG_CONFLICTS = Gauge(
    "meshpilot_config_conflicts",
    "Conflicts in the latest config (objects defined twice, hosts claimed by several objects).",
    registry=REGISTRY,
)
PROXY_NACKED = Gauge(
    "meshpilot_xds_proxy_nacked",
    "1 while the latest response of a type was rejected by the proxy, else 0.",
    ["node_id", "type"],
    registry=REGISTRY,
)
CONVERGENCE = Histogram(
    "meshpilot_proxy_convergence_seconds",
    "Config change observed -> proxy ACKed it, by type (istiod: pilot_proxy_convergence_time).",
    ["type"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    registry=REGISTRY,
)
CONFIG_SIZE = Histogram(
    "meshpilot_xds_config_size_bytes",
    "Size of xDS responses, by type (istiod: pilot_xds_config_size_bytes).",
    ["type"],
    buckets=(1e3, 1e4, 1e5, 1e6, 4e6, 16e6, 64e6),
    registry=REGISTRY,
)
PUSH_DURATION = Histogram(
    "meshpilot_xds_push_duration_seconds",
    "Time to write one xDS response to a proxy's stream, by type (istiod: pilot_xds_push_time).",
    ["type"],
    buckets=(0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5),
    registry=REGISTRY,
)
DEBOUNCE = Histogram(
    "meshpilot_debounce_seconds",
    "First file change seen -> reload started (quiet period 100 ms, max 10 s).",
    buckets=(0.1, 0.2, 0.5, 1, 2, 5, 10, 20),
    registry=REGISTRY,
)


def forget_proxy(node_id: str, type_: str) -> None:
    """Drop per-proxy series when a proxy disconnects (no stale alert for a gone proxy)."""
    with contextlib.suppress(KeyError):
        PROXY_NACKED.remove(node_id, type_)


for _proxy_type in ("router", "sidecar"):
    PROXIES.labels(_proxy_type).set(0)  # present from the start, so "no proxies" can alert
