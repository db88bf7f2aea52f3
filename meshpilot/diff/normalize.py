"""Canonical form of a resource, so inputs that mean the same config compare equal.

The canonical form is `meshpilot.translator.render.plain()` output: proto field names,
declaration order, sorted map keys, default values omitted. Resources read from JSON (Envoy's
`/config_dump`, meshpilot's `/debug/config_dump`) are parsed through the protobuf classes
(`ParseDict`, unknown fields ignored) and re-rendered with `plain()`, which erases the
differences between Envoy's C++ JSON printer and Python's.

Envoy does not echo endpoints: it rebuilds each ClusterLoadAssignment from its host sets when
dumping and fills in values nobody sent. `light()` drops exactly those, on both sides (they
are all equal to what Envoy assumes when the field is absent):

- `policy.overprovisioning_factor: 140` (Envoy's default), and `policy` if nothing else is left;
- `endpoints[].locality: {}` and `endpoints[].load_balancing_weight: 0`;
- `endpoints[].lb_endpoints[].load_balancing_weight: 1`, `metadata: {}`,
  `health_status: HEALTHY` (Envoy reports an endpoint sent as UNKNOWN as HEALTHY);
- `endpoints[].lb_endpoints[].endpoint.health_check_config: {}` and `hostname: ""`.

Listeners, routes and clusters are kept as Envoy received them, so nothing is dropped there.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Mapping
from typing import Any

from google.protobuf import descriptor_pool, json_format, message_factory

from meshpilot.diff.snapshots import ENDPOINTS, MESSAGE

ENVOY_DEFAULT_OVERPROVISIONING = 140
_UNKNOWN_TYPE = re.compile(r"Can not find message descriptor by type_url: (?:[^/\s]*/)?([\w.]+)")


class CanonicalError(Exception):
    """A resource that does not parse as its protobuf message (the message says why)."""


def light(type_: str, raw: Mapping[str, Any]) -> Mapping[str, Any]:
    """The cheap part of normalisation (no protobuf): drop what Envoy adds to endpoints."""
    return _cla(raw) if type_ == ENDPOINTS else raw


def canonical(type_: str, raw: Mapping[str, Any], rendered: bool) -> Mapping[str, Any]:
    """`light(plain(parse(raw)))`; `rendered` resources are already `plain()` output."""
    if rendered:
        return light(type_, raw)
    # Imported here, not at the top: only resources that differ after `light` get this far,
    # and a diff of two saved files should not pay for importing the translator.
    from meshpilot.translator.render import plain

    return light(type_, plain(_parse(MESSAGE[type_], raw)))


def _parse(full_name: str, raw: Mapping[str, Any]) -> Any:
    # The messages of the four xDS types and what they embed (registered on import).
    from envoy.config.cluster.v3 import cluster_pb2  # noqa: F401
    from envoy.config.endpoint.v3 import endpoint_pb2  # noqa: F401
    from envoy.config.listener.v3 import listener_pb2  # noqa: F401
    from envoy.config.route.v3 import route_pb2  # noqa: F401

    imported: set[str] = set()
    while True:
        msg = message_factory.GetMessageClass(descriptor_pool.Default().FindMessageTypeByName(full_name))()
        try:
            json_format.ParseDict(dict(raw), msg, ignore_unknown_fields=True)
            return msg
        except json_format.ParseError as exc:
            m = _UNKNOWN_TYPE.search(str(exc))
            package = m.group(1).rpartition(".")[0] if m else ""
            if not package or package in imported or not _import_package(package):
                raise CanonicalError(str(exc).rstrip(".")) from None
            imported.add(package)


def _import_package(package: str) -> bool:
    """Import every `*_pb2` module of a proto package (e.g. an Envoy extension's `v3`), so its
    messages can be found inside `Any` fields. False if the package is not installed."""
    try:
        mod = importlib.import_module(package)
    except ImportError:
        return False
    found = False
    for info in pkgutil.iter_modules(getattr(mod, "__path__", [])):
        if info.name.endswith("_pb2"):
            importlib.import_module(f"{package}.{info.name}")
            found = True
    return found


def _without(d: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if not (k in defaults and v == defaults[k])}


def _cla(cla: Mapping[str, Any]) -> Mapping[str, Any]:
    out = dict(cla)
    policy = out.get("policy")
    if isinstance(policy, Mapping):
        rest = _without(policy, {"overprovisioning_factor": ENVOY_DEFAULT_OVERPROVISIONING})
        if rest:
            out["policy"] = rest
        else:
            del out["policy"]
    localities = out.get("endpoints")
    if isinstance(localities, list):
        out["endpoints"] = [_locality(x) if isinstance(x, Mapping) else x for x in localities]
    return out


def _locality(group: Mapping[str, Any]) -> dict[str, Any]:
    out = _without(group, {"locality": {}, "load_balancing_weight": 0})
    lb = out.get("lb_endpoints")
    if isinstance(lb, list):
        out["lb_endpoints"] = [_lb_endpoint(x) if isinstance(x, Mapping) else x for x in lb]
    return out


def _lb_endpoint(lb: Mapping[str, Any]) -> dict[str, Any]:
    out = _without(lb, {"load_balancing_weight": 1, "metadata": {}, "health_status": "HEALTHY"})
    ep = out.get("endpoint")
    if isinstance(ep, Mapping):
        out["endpoint"] = _without(ep, {"health_check_config": {}, "hostname": ""})
    return out
