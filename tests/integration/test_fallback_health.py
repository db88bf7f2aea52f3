"""Fallback when every endpoint of the primary subset is unhealthy (ejected by outlier detection)."""

from __future__ import annotations

import pathlib
from collections.abc import Callable

from meshpilot.testing.echo import EchoServer
from meshpilot.testing.envoy import wait_for
from tests.integration.harness import Gateway, MeshpilotProcess, get, wait_routed, write
from tests.integration.test_gateway_e2e import WORKLOAD, setup

EJECTING_RULE = """
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web, namespace: default}
spec:
  host: web
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
  - name: v3
    labels: {version: v3}
    trafficPolicy:
      outlierDetection:
        consecutiveGatewayErrors: 1
        interval: 1s
        baseEjectionTime: 1m
        maxEjectionPercent: 100
"""


def test_all_primary_endpoints_ejected_then_traffic_falls_back(
    tmp_path: pathlib.Path,
    echo: Callable[[str], EchoServer],
    meshpilot: Callable[..., MeshpilotProcess],
    gateway: Callable[..., Gateway],
) -> None:
    cfg, port, ups = setup(tmp_path, echo)
    write(cfg / "service.yaml", (cfg / "service.yaml").read_text().split("---")[0] + "---" + EJECTING_RULE)
    v3 = echo("v3")
    write(cfg / "workload-v3.yaml", WORKLOAD.format(version="v3", port=v3.port))
    mp = meshpilot(cfg)
    gw = gateway(mp.xds_port, port)
    wait_routed(port, "v3", headers={"x-lane": "v3"})
    v3.set_status(503)
    # The lane's only instance now fails: outlier detection ejects it, and with no healthy
    # endpoint left in subset v3 the fallback subset v1 takes the traffic.
    wait_for(lambda: get(port, "/", {"x-lane": "v3"}) == (200, "v1"), 20, "fallback after ejection")
    assert {get(port, "/", {"x-lane": "v3"}) for _ in range(20)} == {(200, "v1")}
    ejected = gw.envoy.stat("cluster.outbound|80|v3|web.default.svc.cluster.local.outlier_detection.ejections_active")
    assert ejected == 1
    assert ups["v2"].hits == 0
