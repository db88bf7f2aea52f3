"""A config Envoy rejects: one `xds.nack` ERROR event, a metric, and Envoy keeps serving."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from meshpilot.testing.echo import EchoServer
from meshpilot.testing.envoy import wait_for
from tests.integration.harness import Gateway, MeshpilotProcess, get, wait_routed, write
from tests.integration.test_gateway_e2e import ROUTES, setup

NACK_ME = """
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: nack-me, namespace: default}
spec:
  hosts: [nack-me.example.com]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1}]
"""

CDS = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_nack_is_logged_counted_and_envoy_keeps_the_last_good_config(
    tmp_path: pathlib.Path,
    echo: Callable[[str], EchoServer],
    meshpilot: Callable[..., MeshpilotProcess],
    gateway: Callable[..., Gateway],
) -> None:
    cfg, port, _ = setup(tmp_path, echo)
    mp = meshpilot(cfg, hook="tests.integration.hooks:negative_timeout_for_nack_me")
    gw = gateway(mp.xds_port, port)
    assert get(port, "/") == (200, "v1")
    # One change that Envoy rejects (the hooked cluster) together with a routing change.
    write(cfg / "nack.yaml", NACK_ME)
    write(cfg / "routes.yaml", ROUTES.format(default="v2"))
    nack = mp.wait_event("xds.nack")
    assert nack["level"] == "error"
    assert nack["node_id"] == gw.node_id
    assert nack["type_url"] == CDS
    assert "Expected positive duration" in nack["error"], nack["error"]
    assert nack["nonce"] and nack["version"]
    # Attribution: the object whose resources changed in the rejected push, and nothing else.
    assert nack["objects"] == ["ServiceEntry default/nack-me"]
    assert nack["version"] != nack["current_version"]
    assert mp.metric("meshpilot_xds_rejects_total", 'type="CDS"') == 1.0
    # Envoy keeps serving with what it has; the CDS it rejected is not applied.
    assert get(port, "/", {"x-version": "v2"}) == (200, "v2")
    dump = gw.envoy.config_dump("dynamic_active_clusters")
    names = {c["cluster"]["name"] for c in dump["configs"]}
    assert not any("nack-me" in n for n in names)
    # Exactly one NACK event for one rejected push (the same content is not re-sent).
    assert len(mp.events("xds.nack")) == 1
    # Fixing the config: the next push is accepted.
    (cfg / "nack.yaml").unlink()
    wait_routed(port, "v2")
    mp.wait_event(
        "xds.ack",
        lambda e: e["type_url"] == CDS and e["version"] != nack["version"] and e["node_id"] == gw.node_id,
    )


def test_status_shows_synced_then_nacked_with_the_error(
    tmp_path: pathlib.Path,
    echo: Callable[[str], EchoServer],
    meshpilot: Callable[..., MeshpilotProcess],
    gateway: Callable[..., Gateway],
) -> None:
    cfg, port, _ = setup(tmp_path, echo)
    mp = meshpilot(cfg, hook="tests.integration.hooks:negative_timeout_for_nack_me")
    gw = gateway(mp.xds_port, port)

    def status(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "meshpilot.cli.main", "status", "--server", mp.admin, *args],
            capture_output=True,
            text=True,
            timeout=30,
            cwd=ROOT,
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
        )

    def row() -> dict[str, Any]:
        rows = json.loads(status("-o", "json").stdout)
        return next(r for r in rows if r["node_id"] == gw.node_id)

    def synced() -> bool:
        types = row()["types"]
        return all(types[t]["status"] == "SYNCED" for t in ("CDS", "EDS", "LDS", "RDS"))

    wait_for(synced, 10, "CDS, EDS, LDS, RDS SYNCED")
    table = status()
    assert table.returncode == 0
    header = ["NODE", "CDS", "EDS", "LDS", "RDS", "SDS", "LAST", "ACK", "CONNECTED"]
    assert table.stdout.splitlines()[0].split() == header
    # No TLS server here: nothing was ever sent over SDS.
    assert f"{gw.node_id}  SYNCED  SYNCED  SYNCED  SYNCED  NOT SENT" in table.stdout
    write(cfg / "nack.yaml", NACK_ME)
    wait_for(lambda: row()["types"]["CDS"]["status"] == "NACKED", 10, "CDS NACKED")
    cds = row()["types"]["CDS"]
    assert "Expected positive duration" in cds["error"] and cds["acked"] != cds["sent"]
    table = status()
    assert f"{gw.node_id}  NACKED" in table.stdout
    assert "Rejected by the proxy (NACK):" in table.stdout and "Expected positive duration" in table.stdout
    down = subprocess.run(
        [sys.executable, "-m", "meshpilot.cli.main", "status", "--server", "http://127.0.0.1:1"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    assert down.returncode == 2 and "cannot read http://127.0.0.1:1/debug/syncz" in down.stderr
