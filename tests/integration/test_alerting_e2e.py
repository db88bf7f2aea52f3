"""Push-failure alerting end to end with the real stack: meshpilot, Envoy, Prometheus
(scraping meshpilot, evaluating the shipped rules) and Alertmanager (Debian packages)."""

from __future__ import annotations

import json
import pathlib
import shutil
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml

from meshpilot.testing.echo import EchoServer
from meshpilot.testing.envoy import http_get, wait_for
from tests.integration.harness import Gateway, MeshpilotProcess, free_port, get, write
from tests.integration.test_gateway_e2e import setup
from tests.integration.test_nack import CDS, NACK_ME

ROOT = pathlib.Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "meshpilot-alerts.yaml"


def binary(*names: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(f"{' or '.join(names)} not found: install Debian's prometheus and prometheus-alertmanager")


class Stack:
    def __init__(self, tmp: pathlib.Path, meshpilot_admin: str) -> None:
        self.am_port, self.prom_port = free_port(), free_port()
        self.procs: list[subprocess.Popen[bytes]] = []
        (tmp / "am").mkdir()
        (tmp / "prom").mkdir()
        (tmp / "am.yml").write_text(
            yaml.safe_dump(
                {
                    "route": {
                        "receiver": "null",
                        "group_wait": "1s",
                        "group_interval": "1s",
                        "repeat_interval": "1h",
                    },
                    "receivers": [{"name": "null"}],
                }
            )
        )
        (tmp / "prom.yml").write_text(
            yaml.safe_dump(
                {
                    "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                    "rule_files": [str(RULES)],
                    "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{self.am_port}"]}]}]},
                    "scrape_configs": [
                        {
                            "job_name": "meshpilot",
                            "static_configs": [{"targets": [meshpilot_admin.split("//")[1]]}],
                        }
                    ],
                }
            )
        )
        self.logs = [open(tmp / "am.log", "wb"), open(tmp / "prom.log", "wb")]  # noqa: SIM115
        self.procs.append(
            subprocess.Popen(
                [binary("prometheus-alertmanager", "alertmanager"), f"--config.file={tmp / 'am.yml'}",
                 f"--storage.path={tmp / 'am'}", f"--web.listen-address=127.0.0.1:{self.am_port}",
                 "--cluster.listen-address="],
                stdout=self.logs[0], stderr=subprocess.STDOUT,
            )
        )  # fmt: skip
        self.procs.append(
            subprocess.Popen(
                [binary("prometheus"), f"--config.file={tmp / 'prom.yml'}",
                 f"--storage.tsdb.path={tmp / 'prom'}", f"--web.listen-address=127.0.0.1:{self.prom_port}"],
                stdout=self.logs[1], stderr=subprocess.STDOUT,
            )
        )  # fmt: skip
        wait_for(lambda: http_get(f"http://127.0.0.1:{self.am_port}/-/ready")[0] == 200, 30, "Alertmanager ready")
        wait_for(lambda: http_get(f"http://127.0.0.1:{self.prom_port}/-/ready")[0] == 200, 30, "Prometheus ready")

    def alerts(self, name: str) -> list[dict[str, Any]]:
        """Active alerts of that name in Alertmanager's API."""
        status, _, body = http_get(f"http://127.0.0.1:{self.am_port}/api/v2/alerts?active=true")
        assert status == 200
        return [
            a for a in json.loads(body) if a["labels"].get("alertname") == name and a["status"]["state"] == "active"
        ]

    def stop(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            p.wait(10)
        for f in self.logs:
            f.close()


@pytest.fixture
def stack_factory() -> Iterator[Callable[[pathlib.Path, str], Stack]]:
    stacks: list[Stack] = []

    def start(tmp: pathlib.Path, admin: str) -> Stack:
        s = Stack(tmp, admin)
        stacks.append(s)
        return s

    yield start
    for s in stacks:
        s.stop()


def test_nack_alert_reaches_alertmanager_with_node_and_type_then_resolves(
    tmp_path: pathlib.Path,
    echo: Callable[[str], EchoServer],
    meshpilot: Callable[..., MeshpilotProcess],
    gateway: Callable[..., Gateway],
    stack_factory: Callable[[pathlib.Path, str], Stack],
) -> None:
    cfg, port, _ = setup(tmp_path, echo)
    mp = meshpilot(cfg, hook="tests.integration.hooks:negative_timeout_for_nack_me")
    gw = gateway(mp.xds_port, port)
    stack = stack_factory(tmp_path, mp.admin)
    assert stack.alerts("MeshpilotProxyRejectedConfig") == []
    # A config Envoy rejects.
    write(cfg / "nack.yaml", NACK_ME)
    nack = mp.wait_event("xds.nack")
    assert nack["node_id"] == gw.node_id and nack["type_url"] == CDS
    fired = wait_for(lambda: stack.alerts("MeshpilotProxyRejectedConfig"), 60, "alert in Alertmanager")
    (alert,) = fired
    assert alert["labels"]["node_id"] == gw.node_id
    assert alert["labels"]["type"] == "CDS"
    assert alert["labels"]["severity"] == "critical"
    assert gw.node_id in alert["annotations"]["summary"]
    assert get(port, "/") == (200, "v1")  # traffic keeps flowing meanwhile
    # The fix: the next push is ACKed and the alert resolves.
    (cfg / "nack.yaml").unlink()
    mp.wait_event("xds.ack", lambda e: e["type_url"] == CDS and e["version"] != nack["version"])
    wait_for(lambda: stack.alerts("MeshpilotProxyRejectedConfig") == [], 60, "alert resolved")
