"""Prometheus metrics, `meshpilot_` prefix, named after istiod's where one exists."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

CONFIG_OBJECTS = Gauge(
    "meshpilot_config_objects", "Valid config objects by kind.", ["kind"], registry=REGISTRY
)
CONFIG_REJECTED = Counter(
    "meshpilot_config_rejected_total",
    "Config documents rejected (decode or validation errors).",
    ["kind"],
    registry=REGISTRY,
)
CONFIG_LOADS = Counter(
    "meshpilot_config_loads_total", "Config loads by outcome.", ["outcome"], registry=REGISTRY
)
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
