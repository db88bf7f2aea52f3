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

# (priority of a locality, weights of the localities present)
Plan = tuple[Callable[[str], int] | None, Callable[[list[str]], dict[str, int]] | None]


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
        if locality_matches(getattr(rule, "from"), proxy.locality):
            targets = sorted(dict(rule.to).items())

            def weights(present: list[str], targets: list[tuple[str, int]] = targets) -> dict[str, int]:
                """A pattern's weight is shared by the localities it matches (as istiod does);
                scaled by 100 so the shares stay integers."""
                owner = {loc: next((p for p, _ in targets if locality_matches(p, loc)), "") for loc in present}
                share = {p: sum(1 for o in owner.values() if o == p) for p, _ in targets}
                weight = dict(targets)
                return {loc: max(1, weight[p] * 100 // share[p]) for loc, p in owner.items() if p and weight[p]}

            return None, weights
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
