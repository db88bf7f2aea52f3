"""End to end with real parts: meshpilot serving over gRPC, a real Envoy gateway, HTTP through it."""

from __future__ import annotations

import pathlib
from collections.abc import Callable

from meshpilot.testing.echo import EchoServer
from meshpilot.testing.envoy import wait_for
from tests.integration.harness import Gateway, MeshpilotProcess, free_port, get, wait_routed, write

GATEWAY = """
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {{name: ingress, namespace: istio-system}}
spec:
  selector: {{istio: ingressgateway}}
  servers:
  - port: {{number: {port}, name: http, protocol: HTTP}}
    hosts: ["*"]
"""

SERVICE = """
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: default}}
spec:
  selector: {{app: web}}
  ports: [{{name: http, port: 80}}]
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {{name: web, namespace: default}}
spec:
  host: web
  subsets:
  - {{name: v1, labels: {{version: v1}}}}
  - {{name: v2, labels: {{version: v2}}}}
  - {{name: v3, labels: {{version: v3}}}}
"""

WORKLOAD = """
apiVersion: networking.istio.io/v1alpha3
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
  - name: path
    match: [{{uri: {{prefix: /v2/}}}}]
    route: [{{destination: {{host: web, subset: v2}}}}]
  - name: split
    match: [{{uri: {{prefix: /split}}}}]
    route:
    - {{destination: {{host: web, subset: v1}}, weight: 75}}
    - {{destination: {{host: web, subset: v2}}, weight: 25}}
  - name: lane
    match: [{{headers: {{x-lane: {{exact: v3}}}}}}]
    route:
    - destination: {{host: web, subset: v3}}
      fallback: {{target: {{host: web, subset: v1}}}}
  - name: default
    route: [{{destination: {{host: web, subset: {default}}}}}]
"""


def setup(
    tmp_path: pathlib.Path, echo: Callable[[str], EchoServer], default: str = "v1"
) -> tuple[pathlib.Path, int, dict[str, EchoServer]]:
    cfg = tmp_path / "config"
    cfg.mkdir()
    port = free_port()
    ups = {"v1": echo("v1"), "v2": echo("v2")}
    write(cfg / "gateway.yaml", GATEWAY.format(port=port))
    write(cfg / "service.yaml", SERVICE.format())
    write(cfg / "workloads.yaml", "---".join(WORKLOAD.format(version=v, port=s.port) for v, s in ups.items()))
    write(cfg / "routes.yaml", ROUTES.format(default=default))
    return cfg, port, ups


def test_header_path_and_weight_routes(
    tmp_path: pathlib.Path,
    echo: Callable[[str], EchoServer],
    meshpilot: Callable[..., MeshpilotProcess],
    gateway: Callable[..., Gateway],
) -> None:
    cfg, port, _ = setup(tmp_path, echo)
    mp = meshpilot(cfg)
    gw = gateway(mp.xds_port, port)
    assert get(port, "/") == (200, "v1")
    assert get(port, "/", {"x-version": "v2"}) == (200, "v2")
    assert get(port, "/v2/anything") == (200, "v2")
    assert get(port, "/v2") == (200, "v1")  # prefix /v2/ does not match /v2
    n = 400
    v2 = sum(get(port, f"/split/{i}")[1] == "v2" for i in range(n))
    # 25% of 400 = 100, sd ~8.7: a 5-sigma window, so a wrong split (0, 50%) cannot pass.
    assert 56 <= v2 <= 144, v2
    # Envoy acknowledged every type meshpilot sent it.
    conns = mp.events("xds.ack")
    assert {e["type_url"].rsplit(".", 1)[-1] for e in conns if e["node_id"] == gw.node_id} >= {
        "Cluster",
        "ClusterLoadAssignment",
        "Listener",
        "RouteConfiguration",
    }


def test_editing_yaml_changes_routing_without_restart(
    tmp_path: pathlib.Path,
    echo: Callable[[str], EchoServer],
    meshpilot: Callable[..., MeshpilotProcess],
    gateway: Callable[..., Gateway],
) -> None:
    cfg, port, _ = setup(tmp_path, echo)
    mp = meshpilot(cfg)
    gw = gateway(mp.xds_port, port)
    assert get(port, "/") == (200, "v1")
    write(cfg / "routes.yaml", ROUTES.format(default="v2"))
    wait_routed(port, "v2")
    assert mp.proc is not None and mp.proc.poll() is None
    assert gw.envoy.proc.poll() is None


def test_bad_object_keeps_last_good_and_logs_config_rejected(
    tmp_path: pathlib.Path,
    echo: Callable[[str], EchoServer],
    meshpilot: Callable[..., MeshpilotProcess],
    gateway: Callable[..., Gateway],
) -> None:
    cfg, port, _ = setup(tmp_path, echo)
    mp = meshpilot(cfg)
    gateway(mp.xds_port, port)
    assert get(port, "/") == (200, "v1")
    # routes.yaml now has a bad VirtualService (weight is a string) next to a good new one.
    bad = ROUTES.format(default="v2").replace("weight: 75", "weight: seventy-five")
    extra = """
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: extra, namespace: default}
spec:
  hosts: [extra.example.com]
  gateways: [istio-system/ingress]
  http:
  - route: [{destination: {host: web, subset: v2}}]
"""
    write(cfg / "routes.yaml", bad + extra)
    ev = mp.wait_event("config.rejected")
    assert ev["level"] == "error"
    assert ev["file"] == "routes.yaml" and ev["doc"] == 1
    assert ev["object"] == "VirtualService default/web"
    assert ev["path"] == "spec.http[2].route[0].weight"
    assert ev["reason"] == 'expected integer, got string "seventy-five"'
    assert ev["kept_last_good"] is True
    # The good neighbour in the same file applied; the bad one's last good version still serves.
    wait_routed(port, "v2", headers={"host": "extra.example.com"})
    assert get(port, "/") == (200, "v1")
    assert mp.metric("meshpilot_config_rejected_total", 'kind="VirtualService"') == 1.0


def test_file_that_is_not_yaml_loses_nothing(
    tmp_path: pathlib.Path,
    echo: Callable[[str], EchoServer],
    meshpilot: Callable[..., MeshpilotProcess],
    gateway: Callable[..., Gateway],
) -> None:
    cfg, port, _ = setup(tmp_path, echo)
    mp = meshpilot(cfg)
    gateway(mp.xds_port, port)
    write(cfg / "routes.yaml", "http: [unclosed\n  - {{{")
    ev = mp.wait_event("config.rejected")
    assert ev["file"] == "routes.yaml" and "not valid YAML" in ev["reason"]
    write(cfg / "gateway2.yaml", "# an unrelated valid edit\n")
    mp.wait_event("config.loaded", lambda e: e["rejected"] == 1 and not e["changed"])
    assert get(port, "/", {"x-version": "v2"}) == (200, "v2")
    assert get(port, "/") == (200, "v1")


def test_fallback_to_other_subset_while_primary_has_no_endpoints(
    tmp_path: pathlib.Path,
    echo: Callable[[str], EchoServer],
    meshpilot: Callable[..., MeshpilotProcess],
    gateway: Callable[..., Gateway],
) -> None:
    cfg, port, ups = setup(tmp_path, echo)
    mp = meshpilot(cfg)
    gateway(mp.xds_port, port)
    # Subset v3 has no endpoint at all: the lane falls back to v1, and no request fails.
    results = {get(port, "/", {"x-lane": "v3"}) for _ in range(20)}
    assert results == {(200, "v1")}
    # An instance of v3 appears: traffic returns to the lane's own subset.
    v3 = echo("v3")
    write(cfg / "workload-v3.yaml", WORKLOAD.format(version="v3", port=v3.port))
    wait_routed(port, "v3", headers={"x-lane": "v3"})
    assert {get(port, "/", {"x-lane": "v3"}) for _ in range(20)} == {(200, "v3")}
    # It goes away again: back to the fallback.
    (cfg / "workload-v3.yaml").unlink()
    wait_routed(port, "v1", headers={"x-lane": "v3"})
    assert ups["v2"].hits == 0


def test_primary_returning_503_does_not_fall_back(
    tmp_path: pathlib.Path,
    echo: Callable[[str], EchoServer],
    meshpilot: Callable[..., MeshpilotProcess],
    gateway: Callable[..., Gateway],
) -> None:
    cfg, port, ups = setup(tmp_path, echo)
    v3 = echo("v3")
    write(cfg / "workload-v3.yaml", WORKLOAD.format(version="v3", port=v3.port))
    mp = meshpilot(cfg)
    gateway(mp.xds_port, port)
    wait_routed(port, "v3", headers={"x-lane": "v3"})
    v3.set_status(503)
    before_v1 = ups["v1"].hits
    statuses = {get(port, "/", {"x-lane": "v3"})[0] for _ in range(5)}
    assert statuses == {503}  # 5xx is retries' job, not fallback's
    assert ups["v1"].hits == before_v1


def test_meshpilot_restart_envoy_keeps_routing_then_resyncs(
    tmp_path: pathlib.Path,
    echo: Callable[[str], EchoServer],
    meshpilot: Callable[..., MeshpilotProcess],
    gateway: Callable[..., Gateway],
) -> None:
    cfg, port, _ = setup(tmp_path, echo)
    mp = meshpilot(cfg)
    gw = gateway(mp.xds_port, port)
    assert get(port, "/") == (200, "v1")
    mp.kill()
    # Control plane down: Envoy keeps serving the last config it has.
    assert {get(port, "/")[1] for _ in range(10)} == {"v1"}
    assert get(port, "/", {"x-version": "v2"}) == (200, "v2")
    write(cfg / "routes.yaml", ROUTES.format(default="v2"))
    mp2 = meshpilot(cfg, xds_port=mp.xds_port)
    mp2.wait_event("xds.stream_opened", lambda e: e["node_id"] == gw.node_id, timeout=30)
    wait_routed(port, "v2", timeout=30)
    wait_for(lambda: mp2.metric("meshpilot_xds_connected_proxies", 'proxy_type="router"') == 1.0, 10, "proxy gauge")
