"""Real processes on loopback: meshpilot serve (subprocess), real Envoy, echo upstreams."""

from __future__ import annotations

import json
import os
import pathlib
import random
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from typing import Any

from meshpilot.testing.envoy import Envoy, http_get, wait_for
from meshpilot.translator.bootstrap import bootstrap, node_id

ROOT = pathlib.Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class MeshpilotProcess:
    """`meshpilot serve` as a subprocess with JSON logs captured to a file."""

    def __init__(self, config_dir: pathlib.Path, workdir: pathlib.Path, *, hook: str = "", xds_port: int = 0) -> None:
        self.config_dir = config_dir
        self.workdir = workdir
        self.xds_port = xds_port or free_port()
        self.admin_port = free_port()
        self.hook = hook
        self.log_path = workdir / f"meshpilot-{self.xds_port}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    @property
    def admin(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}"

    def start(self, wait_ready: bool = True) -> MeshpilotProcess:
        args = [
            sys.executable, "-m", "meshpilot.cli.main", "serve",
            "--config", str(self.config_dir),
            "--xds-address", f"127.0.0.1:{self.xds_port}",
            "--admin-address", f"127.0.0.1:{self.admin_port}",
            "--log-format", "json", "--log-level", "debug",
        ]  # fmt: skip
        if self.hook:
            args += ["--test-translation-hook", self.hook]
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        log.close()
        if wait_ready:
            wait_for(self._ready, 30, "meshpilot /ready")
        return self

    def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError(f"meshpilot exited with {self.proc.returncode}:\n{self.log_path.read_text()}")
        return http_get(self.admin + "/ready", timeout=1)[0] == 200

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        out = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            if not line.startswith("{"):
                continue
            try:
                ev = json.loads(line)
            except json.JSONDecodeError:
                continue
            if name is None or ev.get("event") == name:
                out.append(ev)
        return out

    def wait_event(
        self, name: str, where: Callable[[dict[str, Any]], bool] = lambda e: True, timeout: float = 20
    ) -> dict[str, Any]:
        found: dict[str, Any] = wait_for(
            lambda: next((e for e in self.events(name) if where(e)), None), timeout, f"log event {name}"
        )
        return found

    def metric(self, name: str, labels: str = "") -> float:
        _, _, body = http_get(self.admin + "/metrics")
        want = f"{name}{{{labels}}}" if labels else name
        for line in body.decode().splitlines():
            if line.startswith(want + " "):
                return float(line.split()[-1])
        return 0.0


class Gateway:
    """A real Envoy started with a meshpilot bootstrap as an ingress gateway."""

    def __init__(
        self,
        workdir: pathlib.Path,
        xds_port: int,
        labels: dict[str, str] | None = None,
        name: str = "gw",
        role: str = "router",
        namespace: str = "istio-system",
        ip: str = "127.0.0.1",
        locality: str = "",
    ) -> None:
        self.admin_port = free_port()
        self.labels = labels or {"istio": "ingressgateway"}
        self.node_id = node_id(role, ip, f"{name}-{self.admin_port}", namespace)
        doc = bootstrap(
            node=self.node_id,
            cluster=name,
            namespace=namespace,
            labels=self.labels,
            xds_host="127.0.0.1",
            xds_port=xds_port,
            admin_port=self.admin_port,
            locality=locality,
        )
        self.bootstrap_path = workdir / f"envoy-{self.admin_port}.json"
        self.bootstrap_path.write_text(json.dumps(doc))
        self.envoy = Envoy(
            str(self.bootstrap_path),
            self.admin_port,
            str(workdir / f"envoy-{self.admin_port}.log"),
            random.randint(1000, 60000),
        )

    def start(self, listener_port: int | None = None) -> Gateway:
        self.envoy.wait_ready()
        if listener_port:
            wait_for(lambda: self.listener_active(listener_port), 30, f"Envoy listener on port {listener_port}")
        return self

    def listener_on(self, address: str, port: int) -> bool:
        status, body = self.envoy.admin_get("/listeners")
        return status == 200 and f"::{address}:{port}" in body.decode()

    def listener_active(self, port: int) -> bool:
        status, body = self.envoy.admin_get("/listeners")
        return status == 200 and f"0.0.0.0_{port}::0.0.0.0:{port}" in body.decode()

    def stop(self) -> None:
        self.envoy.stop()


def get(port: int, path: str = "/", headers: dict[str, str] | None = None) -> tuple[int, str]:
    """One request through the gateway; returns (status, upstream name or body)."""
    status, _, body = http_get(f"http://127.0.0.1:{port}{path}", headers=headers)
    try:
        return status, json.loads(body)["name"]
    except (ValueError, KeyError):
        return status, body.decode(errors="replace")


def wait_routed(
    port: int, expected: str, path: str = "/", headers: dict[str, str] | None = None, timeout: float = 20
) -> None:
    wait_for(lambda: get(port, path, headers) == (200, expected), timeout, f"{path} {headers or ''} -> {expected}")


def write(path: pathlib.Path, text: str) -> None:
    """Write atomically (rename) so the watcher never sees half a file, and bump mtime."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(textwrap.dedent(text))
    os.replace(tmp, path)
    now = time.time()
    os.utime(path, (now, now + random.random()))


def client_sidecar_resource(port: int, protocol: str = "HTTP") -> str:
    """A Sidecar for workloads labelled app=client: one explicit egress listener on
    127.0.0.1:`port` (captureMode NONE) that sees the services of its own namespace."""
    name = protocol.lower()
    return f"""
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {{name: client, namespace: default}}
spec:
  workloadSelector: {{labels: {{app: client}}}}
  egress:
  - port: {{number: {port}, protocol: {protocol}, name: {name}}}
    bind: 127.0.0.1
    captureMode: NONE
    hosts: ["./*"]
"""


def start_client_sidecar(gateway: Callable[..., Gateway], xds_port: int, port: int) -> Gateway:
    """A real Envoy sidecar (app=client, namespace default) with its egress listener up."""
    sc = gateway(xds_port, None, labels={"app": "client"}, name="client", role="sidecar", namespace="default")
    wait_for(lambda: sc.listener_on("127.0.0.1", port), 30, f"egress listener 127.0.0.1:{port}")
    return sc
