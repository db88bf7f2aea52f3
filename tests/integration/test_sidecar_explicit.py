"""Explicit-mode sidecars (Sidecar with captureMode NONE): no iptables, listeners bind real
addresses, the application talks to its sidecar, the sidecar routes to the remote service."""

from __future__ import annotations

import pathlib
from collections.abc import Callable

from meshpilot.testing.echo import EchoServer
from meshpilot.testing.envoy import wait_for
from tests.integration.harness import Gateway, MeshpilotProcess, free_port, get, write

CONFIG = """
apiVersion: v1
kind: Service
metadata: {{name: remote, namespace: default}}
spec:
  selector: {{app: remote}}
  ports: [{{name: http, port: {svc_port}}}]
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {{name: remote-v1, namespace: default}}
spec: {{address: 127.0.0.1, ports: {{http: {v1}}}, labels: {{app: remote, version: v1}}}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {{name: remote-v2, namespace: default}}
spec: {{address: 127.0.0.1, ports: {{http: {v2}}}, labels: {{app: remote, version: v2}}}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: remote, namespace: default}}
spec:
  host: remote
  subsets: [{{name: v1, labels: {{version: v1}}}}, {{name: v2, labels: {{version: v2}}}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: remote, namespace: default}}
spec:
  hosts: [remote]
  http:
  - match: [{{headers: {{x-version: {{exact: v2}}}}}}]
    route: [{{destination: {{host: remote, subset: v2}}}}]
  - route: [{{destination: {{host: remote, subset: v1}}}}]
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {{name: client, namespace: default}}
spec:
  workloadSelector: {{labels: {{app: client}}}}
  ingress:
  - port: {{number: {inbound}, protocol: HTTP, name: http}}
    bind: 127.0.0.1
    captureMode: NONE
    defaultEndpoint: 127.0.0.1:{app}
  egress:
  - port: {{number: {svc_port}, protocol: HTTP, name: http}}
    bind: 127.0.0.1
    captureMode: NONE
    hosts: ["./*"]
"""


def test_app_to_sidecar_to_remote_service_and_inbound_to_app(
    tmp_path: pathlib.Path,
    echo: Callable[[str], EchoServer],
    meshpilot: Callable[..., MeshpilotProcess],
    gateway: Callable[..., Gateway],
) -> None:
    cfg = tmp_path / "config"
    cfg.mkdir()
    v1, v2, app = echo("remote-v1"), echo("remote-v2"), echo("client-app")
    svc_port, inbound = free_port(), free_port()
    write(
        cfg / "mesh.yaml",
        CONFIG.format(svc_port=svc_port, v1=v1.port, v2=v2.port, inbound=inbound, app=app.port),
    )
    mp = meshpilot(cfg)
    sidecar = gateway(mp.xds_port, None, labels={"app": "client"}, name="client", role="sidecar", namespace="default")
    wait_for(lambda: sidecar.listener_on("127.0.0.1", svc_port), 30, "egress listener")
    # The app calls the remote service through its sidecar's egress listener, by service name.
    for host in ("remote", "remote.default.svc.cluster.local", f"remote:{svc_port}"):
        assert get(svc_port, "/", {"host": host}) == (200, "remote-v1"), host
    assert get(svc_port, "/", {"host": "remote", "x-version": "v2"}) == (200, "remote-v2")
    # Unknown hosts on an explicit listener go to the BlackHoleCluster (passing them through to
    # the original destination would loop back into the listener).
    assert get(svc_port, "/", {"host": "elsewhere.example.com"})[0] == 503
    # Inbound: traffic to the sidecar's ingress listener reaches the local app.
    wait_for(lambda: sidecar.listener_on("127.0.0.1", inbound), 30, "ingress listener")
    assert get(inbound, "/") == (200, "client-app")
    # Routing changes apply live to the sidecar too.
    text = (
        (cfg / "mesh.yaml")
        .read_text()
        .replace(
            "route: [{destination: {host: remote, subset: v1}}]", "route: [{destination: {host: remote, subset: v2}}]"
        )
    )
    write(cfg / "mesh.yaml", text)
    wait_for(lambda: get(svc_port, "/", {"host": "remote"}) == (200, "remote-v2"), 20, "route change")
