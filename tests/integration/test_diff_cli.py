"""`meshpilot diff` against the real thing: meshpilot serving a real Envoy gateway over ADS."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
from collections.abc import Callable

from meshpilot.diff import load_sides
from meshpilot.diff.snapshots import TYPES
from meshpilot.testing.echo import EchoServer
from meshpilot.testing.envoy import wait_for
from tests.integration.harness import Gateway, MeshpilotProcess, free_port, wait_routed, write
from tests.integration.test_gateway_e2e import GATEWAY

ROOT = pathlib.Path(__file__).resolve().parents[2]

# EDS clusters with subsets and a traffic policy, an aggregate (fallback) cluster, and a DNS
# cluster: Envoy dumps load assignments for the last two although none was sent over EDS.
SERVICES = """
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: default}}
spec:
  selector: {{app: web}}
  ports: [{{name: http, port: 80}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: web, namespace: default}}
spec:
  host: web
  trafficPolicy:
    connectionPool: {{tcp: {{maxConnections: 100, connectTimeout: 2.5s}}}}
    outlierDetection: {{consecutive5xxErrors: 7, interval: 10s, baseEjectionTime: 30s}}
  subsets:
  - {{name: v1, labels: {{version: v1}}}}
  - {{name: v2, labels: {{version: v2}}}}
  - {{name: v3, labels: {{version: v3}}}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {{name: local-dns, namespace: default}}
spec:
  hosts: [dns.example.internal]
  location: MESH_EXTERNAL
  resolution: DNS
  ports: [{{number: 80, name: http, protocol: HTTP}}]
  endpoints: [{{address: localhost, ports: {{http: {dns_port}}}}}]
"""

WORKLOAD = """
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {{name: web-{version}, namespace: default}}
spec:
  address: 127.0.0.1
  ports: {{http: {port}}}
  labels: {{app: web, version: {version}}}
"""

ROUTES = """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: web, namespace: default}}
spec:
  hosts: ["*"]
  gateways: [istio-system/ingress]
  http:
  - name: header
    match: [{{headers: {{x-version: {{exact: v2}}}}}}]
    route: [{{destination: {{host: web, subset: v2}}}}]
  - name: external
    match: [{{uri: {{prefix: /external}}}}]
    route: [{{destination: {{host: dns.example.internal}}}}]
  - name: split
    match: [{{uri: {{prefix: /split}}}}]
    route:
    - {{destination: {{host: web, subset: v1}}, weight: {v1}}}
    - {{destination: {{host: web, subset: v2}}, weight: {v2}}}
  - name: lane
    match: [{{headers: {{x-lane: {{exact: v3}}}}}}]
    route:
    - destination: {{host: web, subset: v3}}
      fallback: {{target: {{host: web, subset: v1}}}}
  - name: default
    route: [{{destination: {{host: web, subset: v1}}}}]
"""

SPLIT_V1_WEIGHT = "virtual_hosts[0].routes[2].route.weighted_clusters.clusters[0].weight"


def diff(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "meshpilot.cli.main", "diff", "--color", "never", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        timeout=60,
    )


def setup(tmp_path: pathlib.Path, echo: Callable[[str], EchoServer]) -> tuple[pathlib.Path, int]:
    cfg = tmp_path / "config"
    cfg.mkdir()
    port = free_port()
    ups = {"v1": echo("v1"), "v2": echo("v2")}
    write(cfg / "gateway.yaml", GATEWAY.format(port=port))
    write(cfg / "services.yaml", SERVICES.format(dns_port=ups["v1"].port))
    write(cfg / "workloads.yaml", "---".join(WORKLOAD.format(version=v, port=s.port) for v, s in ups.items()))
    write(cfg / "routes.yaml", ROUTES.format(v1=75, v2=25))
    return cfg, port


def start(
    tmp_path: pathlib.Path,
    echo: Callable[[str], EchoServer],
    meshpilot: Callable[..., MeshpilotProcess],
    gateway: Callable[..., Gateway],
) -> tuple[pathlib.Path, int, MeshpilotProcess, Gateway]:
    cfg, port = setup(tmp_path, echo)
    mp = meshpilot(cfg)
    gw = gateway(mp.xds_port, port)
    wait_routed(port, "v1")
    return cfg, port, mp, gw


def wait_equal(old: str, new: str) -> None:
    """Envoy applies pushes asynchronously: poll (with a deadline) until it has them all."""
    last: list[subprocess.CompletedProcess[str]] = []

    def equal() -> bool:
        last[:] = [diff(old, new)]
        return last[0].returncode == 0

    try:
        wait_for(equal, 30, f"meshpilot diff {old} {new} to exit 0", interval=0.3)
    except TimeoutError as exc:
        raise AssertionError(f"{exc}\n{last[0].stdout}\n{last[0].stderr}") from None


def test_what_meshpilot_sent_equals_what_envoy_has(
    tmp_path: pathlib.Path,
    echo: Callable[[str], EchoServer],
    meshpilot: Callable[..., MeshpilotProcess],
    gateway: Callable[..., Gateway],
) -> None:
    cfg, _, mp, gw = start(tmp_path, echo, meshpilot, gateway)
    sent = f"{mp.admin}/debug/config_dump?node={gw.node_id}"
    wait_equal(sent, gw.envoy.admin)
    out = diff(sent, gw.envoy.admin, "-o", "json")
    assert out.returncode == 0, out.stdout + out.stderr
    doc = json.loads(out.stdout)
    assert doc["equal"] is True and doc["warnings"] == [] and out.stderr == ""
    assert doc["new"]["kind"] == "envoy config_dump"
    [proxy] = doc["proxies"]
    assert (proxy["node_id"], proxy["status"], proxy["not_compared"]) == (gw.node_id, "equal", [])
    # Not vacuous: every type has resources on both sides, and Envoy's endpoints are not what
    # meshpilot sent byte for byte (it rebuilds them), yet they compare equal.
    mine, envoys = load_sides(sent, gw.envoy.admin, read_dir=lambda p: {})
    mine_p, envoy_p = mine.proxies[gw.node_id], envoys.proxies[gw.node_id]
    for t in TYPES:
        assert mine_p.resources[t] and set(mine_p.resources[t]) == set(envoy_p.resources[t]), t
    assert any(a.raw != envoy_p.resources["endpoints"][n].raw for n, a in mine_p.resources["endpoints"].items())
    # The config directory, translated offline for the Envoy's own node (labels from its dump).
    wait_equal(str(cfg), gw.envoy.admin)
    # Against meshpilot's dump (node ids only): for the proxy named, or the Gateway's selector.
    for extra in (("--node-id", gw.node_id, "--label", "istio=ingressgateway"), ()):
        same = diff(str(cfg), sent, *extra)
        assert (same.returncode, same.stdout) == (0, "1 proxy: 0 changed\n"), same.stdout + same.stderr


def test_an_edit_shows_as_a_field_change_from_its_virtual_service(
    tmp_path: pathlib.Path,
    echo: Callable[[str], EchoServer],
    meshpilot: Callable[..., MeshpilotProcess],
    gateway: Callable[..., Gateway],
) -> None:
    cfg, port, mp, gw = start(tmp_path, echo, meshpilot, gateway)
    node = ("--node-id", gw.node_id, "--label", "istio=ingressgateway")
    saved = tmp_path / "before.json"
    translated = subprocess.run(
        [sys.executable, "-m", "meshpilot.cli.main", "translate", "--config", str(cfg), *node, "-o", "json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        timeout=60,
    )
    assert translated.returncode == 0, translated.stderr
    saved.write_text(translated.stdout)
    wait_equal(str(saved), gw.envoy.admin)  # the saved snapshot is what Envoy runs

    write(cfg / "routes.yaml", ROUTES.format(v1=50, v2=50))
    out = diff(str(saved), str(cfg), *node)
    assert out.returncode == 1, out.stdout + out.stderr
    assert f"~ {SPLIT_V1_WEIGHT}: 75 -> 50" in out.stdout
    assert f"~ http.{port}  [VirtualService default/web]" in out.stdout
    assert out.stdout.splitlines()[-1] == "1 proxy: 1 changed (1 resource: +0 -0 ~1)"

    # meshpilot picks the edit up and pushes it: the live Envoy now differs from the saved
    # snapshot in exactly that way, and equals the config directory.
    wait_equal(str(cfg), gw.envoy.admin)
    live = diff(str(saved), gw.envoy.admin, "-o", "json")
    assert live.returncode == 1
    [route] = json.loads(live.stdout)["proxies"][0]["types"]["routes"]["changed"]
    assert route["changes"][:1] == [
        {"op": "changed", "path": SPLIT_V1_WEIGHT, "old": 75, "new": 50, "sources": ["VirtualService default/web"]}
    ]
    sent = diff(str(saved), f"{mp.admin}/debug/config_dump?node={gw.node_id}")
    assert sent.returncode == 1 and f"~ {SPLIT_V1_WEIGHT}: 75 -> 50" in sent.stdout


def test_errors_exit_two_with_one_clear_line(
    tmp_path: pathlib.Path,
    echo: Callable[[str], EchoServer],
    meshpilot: Callable[..., MeshpilotProcess],
) -> None:
    cfg, _ = setup(tmp_path, echo)
    mp = meshpilot(cfg)
    closed = f"http://127.0.0.1:{free_port()}"
    cases = [
        ((closed, str(cfg)), f"OLD {closed}: cannot fetch {closed}/config_dump?include_eds: "),
        (
            (f"{mp.admin}/debug/config_dump?node=router~1.2.3.4~nobody.ns~ns.svc.cluster.local", str(cfg)),
            "answered HTTP 404: no proxy 'router~1.2.3.4~nobody.ns~ns.svc.cluster.local' is connected "
            "(connected: none)",
        ),
        ((f"{mp.admin}/debug/config_dump", str(cfg)), "answered HTTP 400: missing ?node=<node id> (connected: none)"),
        ((mp.admin, str(cfg)), f"is a meshpilot admin address, not Envoy's: use {mp.admin}/debug/config_dump?node=ID"),
        ((str(tmp_path / "missing.json"), str(cfg)), "no such file, directory or URL"),
    ]
    for args, message in cases:
        out = diff(*args)
        assert out.returncode == 2, (args, out.stdout, out.stderr)
        assert out.stdout == ""
        assert out.stderr.startswith("meshpilot diff: error: ") and out.stderr.count("\n") == 1, out.stderr
        assert message in out.stderr, out.stderr
        assert "Traceback" not in out.stderr
