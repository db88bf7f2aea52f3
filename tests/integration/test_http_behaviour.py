"""VirtualService and DestinationRule behaviour through a real Envoy (an explicit-mode sidecar):
retries, fault injection, mirroring, redirect and rewrite, CORS, consistent hashing, circuit
breaking, and fallback on one leg of a weighted route."""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import pathlib
import threading
import time
from collections.abc import Callable

import pytest

from meshpilot.testing.echo import EchoServer
from meshpilot.testing.envoy import http_get, wait_for
from tests.integration.harness import (
    Gateway,
    MeshpilotProcess,
    client_sidecar_resource,
    free_port,
    get,
    start_client_sidecar,
    write,
)

SERVICE = """
---
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: default}}
spec:
  selector: {{app: {name}}}
  ports: [{{name: http, port: {port}}}]
"""
WORKLOAD = """
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {{name: {name}-{version}, namespace: default}}
spec: {{address: 127.0.0.1, ports: {{http: {upstream}}}, labels: {{app: {name}, version: {version}}}}}
"""
ROUTES = """
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web, namespace: default}
spec:
  host: web
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}, {name: v3, labels: {version: v3}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: default}
spec:
  hosts: [web]
  http:
  - match: [{uri: {prefix: /fault-abort}}]
    fault: {abort: {httpStatus: 418, percentage: {value: 100}}}
    route: [{destination: {host: web, subset: v1}}]
  - match: [{uri: {prefix: /fault-delay}}]
    fault: {delay: {fixedDelay: 400ms, percentage: {value: 100}}}
    route: [{destination: {host: web, subset: v1}}]
  - match: [{uri: {prefix: /mirror}}]
    route: [{destination: {host: web, subset: v1}}]
    mirror: {host: shadow}
    mirrorPercentage: {value: 100}
  - match: [{uri: {prefix: /redirect}}]
    redirect: {uri: /elsewhere, authority: other.example.com}
  - match: [{uri: {prefix: /old/}}]
    rewrite: {uri: /new/}
    route: [{destination: {host: web, subset: v1}}]
  - match: [{uri: {prefix: /cors}}]
    corsPolicy:
      allowOrigins: [{exact: "https://app.example.com"}]
      allowMethods: [GET, POST]
      maxAge: 60s
    route: [{destination: {host: web, subset: v1}}]
  - match: [{uri: {prefix: /split}}]
    route:
    - destination: {host: web, subset: v3}
      weight: 50
      fallback: {target: {host: web, subset: v1}}
    - destination: {host: web, subset: v2}
      weight: 50
  - route: [{destination: {host: web, subset: v1}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: flaky, namespace: default}
spec:
  hosts: [flaky]
  http:
  - match: [{uri: {prefix: /custom}}]
    retries: {attempts: 4, retryOn: "5xx", perTryTimeout: 2s}
    route: [{destination: {host: flaky}}]
  - match: [{uri: {prefix: /none}}]
    retries: {attempts: 0}
    route: [{destination: {host: flaky}}]
  - route: [{destination: {host: flaky}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: sticky, namespace: default}
spec:
  host: sticky
  trafficPolicy:
    loadBalancer: {consistentHash: {httpHeaderName: x-user}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: slow, namespace: default}
spec:
  host: slow
  trafficPolicy:
    connectionPool:
      tcp: {maxConnections: 1}
      http: {http1MaxPendingRequests: 1, http2MaxRequests: 1, maxRetries: 0}
"""


@dataclasses.dataclass
class Mesh:
    port: int
    upstreams: dict[str, EchoServer]
    envoy: Gateway

    def get(self, host: str, path: str = "/", headers: dict[str, str] | None = None) -> tuple[int, str]:
        return get(self.port, path, {"host": host, **(headers or {})})


@pytest.fixture
def mesh(
    tmp_path: pathlib.Path,
    echo: Callable[[str], EchoServer],
    meshpilot: Callable[..., MeshpilotProcess],
    gateway: Callable[..., Gateway],
) -> Mesh:
    port = free_port()
    ups = {
        n: echo(n) for n in ("web-v1", "web-v2", "shadow-v1", "flaky-v1", "sticky-a", "sticky-b", "sticky-c", "slow-v1")
    }
    text = "".join(SERVICE.format(name=n, port=port) for n in ("web", "shadow", "flaky", "sticky", "slow"))
    for key, server in ups.items():
        name, version = key.split("-")
        text += WORKLOAD.format(name=name, version=version, upstream=server.port)
    cfg = tmp_path / "config"
    cfg.mkdir()
    write(cfg / "mesh.yaml", text + client_sidecar_resource(port) + ROUTES)
    mp = meshpilot(cfg)
    envoy = start_client_sidecar(gateway, mp.xds_port, port)
    wait_for(lambda: get(port, "/", {"host": "web"}) == (200, "web-v1"), 20, "web routed")
    return Mesh(port, ups, envoy)


def test_retries_default_custom_and_disabled(mesh: Mesh) -> None:
    flaky = mesh.upstreams["flaky-v1"]
    flaky.set_status(503)
    for path, attempts in (("/", 3), ("/custom", 5), ("/none", 1)):
        before = flaky.hits
        assert mesh.get("flaky", path)[0] == 503
        # istiod's default: 2 retries on 503; `attempts: 4` -> 5 tries; `attempts: 0` -> no retry.
        assert flaky.hits - before == attempts, path


def test_fault_abort_and_delay(mesh: Mesh) -> None:
    web = mesh.upstreams["web-v1"]
    before = web.hits
    assert mesh.get("web", "/fault-abort")[0] == 418
    assert web.hits == before  # aborted before reaching the upstream
    start = time.monotonic()
    assert mesh.get("web", "/fault-delay") == (200, "web-v1")
    assert time.monotonic() - start >= 0.39  # 400 ms injected (clock granularity aside)


def test_mirror_sends_copies_and_client_gets_primary(mesh: Mesh) -> None:
    shadow = mesh.upstreams["shadow-v1"]
    for i in range(5):
        assert mesh.get("web", f"/mirror/{i}") == (200, "web-v1")
    wait_for(lambda: shadow.hits >= 5, 10, "mirrored copies")
    paths = sorted(p for _, p, _ in shadow.requests)
    assert paths == [f"/mirror/{i}" for i in range(5)]
    # Envoy marks shadowed requests by appending -shadow to the authority.
    assert all(h["host"].endswith("-shadow") for _, _, h in shadow.requests)


def test_redirect_and_rewrite(mesh: Mesh) -> None:
    status, headers, _ = http_get(f"http://127.0.0.1:{mesh.port}/redirect", headers={"host": "web"})
    assert status == 301
    assert headers["location"] == "http://other.example.com/elsewhere"
    assert mesh.get("web", "/old/page?x=1") == (200, "web-v1")
    assert mesh.upstreams["web-v1"].requests[-1][1] == "/new/page?x=1"


def test_cors_preflight(mesh: Mesh) -> None:
    import urllib.request

    req = urllib.request.Request(
        f"http://127.0.0.1:{mesh.port}/cors",
        method="OPTIONS",
        headers={"host": "web", "origin": "https://app.example.com", "access-control-request-method": "POST"},
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert resp.status == 200
        assert resp.headers["access-control-allow-origin"] == "https://app.example.com"
        assert "POST" in resp.headers["access-control-allow-methods"]
        assert resp.headers["access-control-max-age"] == "60"
    req = urllib.request.Request(
        f"http://127.0.0.1:{mesh.port}/cors",
        method="OPTIONS",
        headers={"host": "web", "origin": "https://evil.example.com", "access-control-request-method": "POST"},
    )
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert "access-control-allow-origin" not in resp.headers
    except urllib.error.HTTPError as err:
        assert "access-control-allow-origin" not in err.headers


def test_consistent_hash_is_sticky_per_user(mesh: Mesh) -> None:
    chosen: dict[str, set[str]] = collections.defaultdict(set)
    for user in range(12):
        for _ in range(5):
            chosen[f"u{user}"].add(mesh.get("sticky", "/", {"x-user": f"u{user}"})[1])
    assert all(len(s) == 1 for s in chosen.values()), chosen  # each user always lands on one host
    assert len(set().union(*chosen.values())) >= 2  # and users spread over the hosts


def test_circuit_breaker_overflow_returns_503_uo(mesh: Mesh) -> None:
    slow = mesh.upstreams["slow-v1"]
    slow.set_delay(1.0)
    n = 12
    barrier = threading.Barrier(n)

    def call(_: int) -> tuple[int, dict[str, str], bytes]:
        barrier.wait(10)  # all at once, even on a busy machine
        return http_get(f"http://127.0.0.1:{mesh.port}/", headers={"host": "slow"}, timeout=20)

    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        results = list(pool.map(call, range(n)))
    statuses = collections.Counter(r[0] for r in results)
    overflowed = [r for r in results if r[0] == 503]
    assert statuses[200] >= 1 and overflowed, statuses
    # Envoy's overflow answer: 503 with x-envoy-overloaded (response flag UO).
    assert all(h.get("x-envoy-overloaded") == "true" for _, h, _ in overflowed)
    prefix = f"cluster.outbound|{mesh.port}||slow.default.svc.cluster.local."
    overflows = sum(
        mesh.envoy.envoy.stat(prefix + s) or 0 for s in ("upstream_rq_pending_overflow", "upstream_rq_overflow")
    )
    assert overflows >= 1  # the circuit breaker of this cluster tripped


def test_weighted_route_with_fallback_on_one_leg(mesh: Mesh) -> None:
    # 50% to subset v3 (no endpoints: falls back to v1) and 50% to v2; nothing fails.
    counts = collections.Counter(mesh.get("web", f"/split/{i}") for i in range(200))
    assert set(counts) == {(200, "web-v1"), (200, "web-v2")}
    assert 60 <= counts[(200, "web-v1")] <= 140, counts
