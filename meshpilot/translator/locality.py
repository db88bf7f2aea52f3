"""Locality load balancing (DestinationRule `loadBalancer.localityLbSetting`), as istiod does it
in ApplyLocalityLoadBalancer, for a proxy that states its locality (Envoy node `locality`):

- `distribute`: the first rule whose `from` matches the proxy's locality sets the weight of each
  destination locality (a weight shared by the localities a `to` pattern matches); localities
  matched by no `to` get no traffic.
- failover (only with outlierDetection, as istiod requires): endpoints get priorities by how
  much of the proxy's locality they share: same region/zone/subzone 0, same region/zone 1, same
  region 2, then the `failover` target region of the proxy's region, then everything else.
  Priorities are renumbered without gaps, as Envoy requires.
"""

from __future__ import annotations

from collections.abc import Callable

from meshpilot.api.networking.v1 import destination_rule_pb2 as dr_pb2
from meshpilot.model.proxy import Proxy

Plan = tuple[Callable[[str], int] | None, Callable[[str], int] | None]  # (priority, weight) by locality


def _parts(locality: str) -> tuple[str, str, str]:
    region, zone, subzone = ([*locality.split("/"), "", "", ""])[:3]
    return region, zone, subzone


def locality_matches(pattern: str, locality: str) -> bool:
    """`region/zone/subzone` patterns where `*` matches anything from there on."""
    for p, part in zip(pattern.split("/"), _parts(locality), strict=False):
        if p == "*":
            return True
        if p != part:
            return False
    return True


def plan(policy: dr_pb2.TrafficPolicy, proxy: Proxy) -> Plan:
    lb = policy.load_balancer
    setting = lb.locality_lb_setting
    if not proxy.locality or (setting.HasField("enabled") and not setting.enabled.value):
        return None, None
    for rule in setting.distribute:
        if locality_matches(rule.__getattribute__("from"), proxy.locality):
            targets = dict(rule.to)

            def weight(loc: str, targets: dict[str, int] = targets) -> int:
                return next((w for pattern, w in sorted(targets.items()) if locality_matches(pattern, loc)), 0)

            return None, weight
    if not policy.HasField("outlier_detection"):
        return None, None
    region, zone, subzone = proxy.region_zone_subzone
    failover_to = next((f.to for f in setting.failover if getattr(f, "from") == region), "")

    def priority(loc: str) -> int:
        r, z, s = _parts(loc)
        if (r, z, s) == (region, zone, subzone):
            return 0
        if (r, z) == (region, zone):
            return 1
        if r == region:
            return 2
        if failover_to and r == failover_to:
            return 3
        return 4

    return priority, None
