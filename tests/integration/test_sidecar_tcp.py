"""A sidecar's TCP egress routed by a mesh VirtualService `tcp` route through a real Envoy:
subsets by weight, and fallback when a subset has no endpoint."""

from __future__ import annotations

import pathlib
import socket
from collections.abc import Callable, Iterator

import pytest

from meshpilot.testing.envoy import wait_for
from tests.integration.harness import (
    Gateway,
    MeshpilotProcess,
    client_sidecar_resource,
    free_port,
    start_client_sidecar,
    write,
)
from tests.integration.tls_helpers import EchoUpstream

CONFIG = """
apiVersion: v1
kind: Service
metadata: {{name: db, namespace: default}}
spec: {{selector: {{app: db}}, ports: [{{name: tcp, port: {port}}}]}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {{name: db-primary, namespace: default}}
spec: {{address: 127.0.0.1, ports: {{tcp: {primary}}}, labels: {{app: db, role: primary}}}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {{name: db-replica, namespace: default}}
spec: {{address: 127.0.0.1, ports: {{tcp: {replica}}}, labels: {{app: db, role: replica}}}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: db, namespace: default}}
spec:
  host: db
  subsets:
  - {{name: primary, labels: {{role: primary}}}}
  - {{name: replica, labels: {{role: replica}}}}
  - {{name: standby, labels: {{role: standby}}}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: db, namespace: default}}
spec:
  hosts: [db]
  tcp:
  - route:
    - {{destination: {{host: db, subset: replica}}, weight: 50}}
    - destination: {{host: db, subset: standby}}
      weight: 50
      fallback: {{target: {{host: db, subset: primary}}}}
"""


@pytest.fixture
def upstreams() -> Iterator[Callable[[str], EchoUpstream]]:
    started: list[EchoUpstream] = []

    def start(name: str) -> EchoUpstream:
        started.append(EchoUpstream(name))
        return started[-1]

    yield start
    for u in started:
        u.stop()


def test_tcp_route_weights_subsets_and_fallback(
    tmp_path: pathlib.Path,
    upstreams: Callable[[str], EchoUpstream],
    meshpilot: Callable[..., MeshpilotProcess],
    gateway: Callable[..., Gateway],
) -> None:
    primary, replica = upstreams("primary"), upstreams("replica")
    port = free_port()
    cfg = tmp_path / "config"
    cfg.mkdir()
    write(
        cfg / "mesh.yaml",
        CONFIG.format(port=port, primary=primary.port, replica=replica.port) + client_sidecar_resource(port, "TCP"),
    )
    mp = meshpilot(cfg)
    start_client_sidecar(gateway, mp.xds_port, port)

    def tcp(payload: bytes) -> bytes:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(payload)
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
            return b"".join(chunks)

    wait_for(lambda: tcp(b"ping").endswith(b":ping"), 20, "TCP route")
    answers = {tcp(f"q{i}".encode()).split(b":")[0] for i in range(30)}
    # 50% to replica; the other 50% to subset standby, which has no endpoint: its fallback, primary.
    assert answers == {b"replica", b"primary"}


TLS_CONFIG = """
apiVersion: v1
kind: Service
metadata: {{name: api, namespace: default}}
spec: {{selector: {{app: api}}, ports: [{{name: tls, port: {port}}}]}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {{name: api-v1, namespace: default}}
spec: {{address: 127.0.0.1, ports: {{tls: {v1}}}, labels: {{app: api, version: v1}}}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {{name: api-v2, namespace: default}}
spec: {{address: 127.0.0.1, ports: {{tls: {v2}}}, labels: {{app: api, version: v2}}}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: api, namespace: default}}
spec:
  host: api
  subsets: [{{name: v1, labels: {{version: v1}}}}, {{name: v2, labels: {{version: v2}}}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: api, namespace: default}}
spec:
  hosts: [api, "*.api.example.com"]
  tls:
  - match: [{{sniHosts: [v2.api.example.com]}}]
    route: [{{destination: {{host: api, subset: v2}}}}]
  tcp:
  - route: [{{destination: {{host: api, subset: v1}}}}]
"""


def test_tls_route_by_sni_through_the_sidecar(
    tmp_path: pathlib.Path,
    meshpilot: Callable[..., MeshpilotProcess],
    gateway: Callable[..., Gateway],
) -> None:
    from tests.integration.tls_helpers import client_context, issue, make_ca, tls_handshake

    ca = make_ca(tmp_path / "pki")
    cert = issue(ca, "api", "*.api.example.com", ["DNS:*.api.example.com"])
    v1, v2 = EchoUpstream("v1", cert), EchoUpstream("v2", cert)
    try:
        port = free_port()
        cfg = tmp_path / "config"
        cfg.mkdir()
        write(
            cfg / "mesh.yaml",
            TLS_CONFIG.format(port=port, v1=v1.port, v2=v2.port) + client_sidecar_resource(port, "TLS"),
        )
        mp = meshpilot(cfg)
        start_client_sidecar(gateway, mp.xds_port, port)
        # The SNI picks the route: v2.api.example.com -> subset v2; any other SNI -> the tcp route (v1).
        before = (v1.connections, v2.connections)
        wait_for(lambda: tls_handshake(port, "v2.api.example.com", client_context(ca)).version, 20, "v2")
        wait_for(lambda: v2.connections > before[1], 10, "v2 got the connection")  # counted after accept
        assert v1.connections == before[0]
        tls_handshake(port, "www.api.example.com", client_context(ca))
        wait_for(lambda: v1.connections > before[0], 10, "v1 got the other SNI")
    finally:
        v1.stop()
        v2.stop()
