"""Locality failover through a real Envoy: traffic stays in the gateway's zone while it is
healthy and moves to the failover region when the local endpoints are ejected."""

from __future__ import annotations

import pathlib
from collections.abc import Callable

from meshpilot.testing.echo import EchoServer
from meshpilot.testing.envoy import wait_for
from tests.integration.harness import Gateway, MeshpilotProcess, free_port, get, write

CONFIG = """
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {{name: ingress, namespace: istio-system}}
spec:
  selector: {{istio: ingressgateway}}
  servers: [{{port: {{number: {port}, name: http, protocol: HTTP}}, hosts: ["*"]}}]
---
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: default}}
spec: {{selector: {{app: web}}, ports: [{{name: http, port: 80}}]}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {{name: web-local, namespace: default}}
spec: {{address: 127.0.0.1, ports: {{http: {local}}}, locality: us-west/zone1, labels: {{app: web}}}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {{name: web-east, namespace: default}}
spec: {{address: 127.0.0.1, ports: {{http: {east}}}, locality: us-east/zone1, labels: {{app: web}}}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {{name: web-eu, namespace: default}}
spec: {{address: 127.0.0.1, ports: {{http: {eu}}}, locality: eu-west/zone1, labels: {{app: web}}}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: web, namespace: default}}
spec:
  host: web
  trafficPolicy:
    outlierDetection: {{consecutiveGatewayErrors: 1, interval: 1s, baseEjectionTime: 1m, maxEjectionPercent: 100}}
    loadBalancer: {{localityLbSetting: {{failover: [{{from: us-west, to: us-east}}]}}}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: web, namespace: default}}
spec:
  hosts: ["*"]
  gateways: [istio-system/ingress]
  http: [{{route: [{{destination: {{host: web}}}}], retries: {{attempts: 0}}}}]
"""


def test_locality_failover_to_the_configured_region(
    tmp_path: pathlib.Path,
    echo: Callable[[str], EchoServer],
    meshpilot: Callable[..., MeshpilotProcess],
    gateway: Callable[..., Gateway],
) -> None:
    local, east, eu = echo("local"), echo("east"), echo("eu")
    port = free_port()
    cfg = tmp_path / "config"
    cfg.mkdir()
    write(cfg / "mesh.yaml", CONFIG.format(port=port, local=local.port, east=east.port, eu=eu.port))
    mp = meshpilot(cfg)
    gateway(mp.xds_port, port, locality="us-west/zone1/a")
    assert {get(port, "/")[1] for _ in range(20)} == {"local"}  # same zone only while healthy
    local.set_status(503)
    wait_for(lambda: get(port, "/") == (200, "east"), 20, "failover to us-east")
    assert {get(port, "/")[1] for _ in range(20)} == {"east"}  # the failover region, not eu-west
    assert eu.hits == 0
