"""`make demo`: ASM's traffic-lane walkthrough with real Envoys, as local processes on loopback.

The same topology as docker-compose.yml, without Docker: meshpilot, an Envoy ingress gateway,
and six instances (mocka v1/v2, mockb v1/v3, mockc v1/v2), each an app plus an Envoy sidecar in
explicit mode, every instance on its own loopback address (127.0.0.11-16). Prints the three
lanes' answers, then keeps running with things to try. `--check` verifies the lanes and the
fallback after stopping mockc v2, then exits (CI runs this).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import tempfile
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from meshpilot.testing.envoy import Envoy, EnvoyNotFound, find_envoy, http_get, wait_for  # noqa: E402
from meshpilot.translator.bootstrap import bootstrap, node_id  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
CHAIN = {"mocka": "mockb", "mockb": "mockc", "mockc": ""}
GATEWAY_PORT = 8088
EXPECTED = {
    "s1": [("mocka", "v1"), ("mockb", "v1"), ("mockc", "v1")],
    "s2": [("mocka", "v2"), ("mockb", "v1"), ("mockc", "v2")],
    "s3": [("mocka", "v1"), ("mockb", "v3"), ("mockc", "v1")],
}
HOP = re.compile(r"-> (\w+)\(version: (\w+), ip: ([\d.]+)\)")


class Demo:
    def __init__(self, ns: argparse.Namespace) -> None:
        self.ns = ns
        self.work = pathlib.Path(tempfile.mkdtemp(prefix="meshpilot-demo-"))
        self.config = self.work / "config"
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.envoys: dict[str, Envoy] = {}
        self.instances: list[dict[str, Any]] = []

    def write_config(self) -> None:
        self.config.mkdir()
        (self.config / "mesh.yaml").write_text((HERE / "config" / "mesh.yaml").read_text())
        # One file per instance, so stopping an instance is deleting its file (as Kubernetes
        # removes a pod's endpoint).
        for doc in yaml.safe_load_all((HERE / "workloads-local.yaml").read_text()):
            name = doc["metadata"]["name"]
            (self.config / f"workload-{name}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
            labels = doc["spec"]["labels"]
            self.instances.append(
                {
                    "name": name,
                    "app": labels["app"],
                    "version": labels["version"],
                    "ip": doc["spec"]["address"],
                    "labels": labels,
                }
            )

    def log(self, name: str) -> Any:
        return open(self.work / f"{name}.log", "ab")

    def start(self) -> None:
        self.write_config()
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        print(f"[1/4] meshpilot serving {self.config} (xDS 127.0.0.1:{self.ns.xds_port}, admin :{self.ns.admin_port})")
        cmd = [sys.executable, "-m", "meshpilot.cli.main", "serve", "--config", str(self.config)]
        cmd += ["--xds-address", f"127.0.0.1:{self.ns.xds_port}", "--admin-address", f"127.0.0.1:{self.ns.admin_port}"]
        self.procs["meshpilot"] = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=self.log("meshpilot"), stderr=subprocess.STDOUT
        )
        ready = f"http://127.0.0.1:{self.ns.admin_port}/ready"
        wait_for(lambda: self.alive("meshpilot") and http_get(ready, timeout=1)[0] == 200, 30, "meshpilot /ready")
        print("[2/4] six instances: app + Envoy sidecar (explicit mode) on 127.0.0.11-16")
        for i, inst in enumerate(self.instances):
            self.start_instance(inst, admin_port=self.ns.envoy_admin_base + 1 + i)
        print(f"[3/4] Envoy ingress gateway on :{GATEWAY_PORT}")
        self.start_envoy(
            "gateway", node_id("router", "127.0.0.1", "ingressgateway-1", "istio-system"), "istio-system",
            {"istio": "ingressgateway"}, self.ns.envoy_admin_base,
        )  # fmt: skip
        print("[4/4] waiting for every proxy to get its config")
        for name, envoy in self.envoys.items():
            envoy.wait_ready(60)
            if name != "gateway":
                inst = next(i for i in self.instances if i["name"] == name)
                ip = inst["ip"]
                wait_for(
                    lambda e=envoy, ip=ip: _listening(e, ip, 8080) and _listening(e, ip, 8000),  # type: ignore[misc]
                    60,
                    f"{name} sidecar listeners",
                )
        wait_for(lambda: all(self.lane(lane) == want for lane, want in EXPECTED.items()), 60, "all three lanes")

    def start_instance(self, inst: dict[str, Any], admin_port: int) -> None:
        name, ip = inst["name"], inst["ip"]
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        cmd = [sys.executable, str(HERE / "mockapp.py"), "--name", inst["app"], "--version", inst["version"]]
        cmd += ["--ip", ip, "--listen", f"{ip}:9000", "--next", CHAIN[inst["app"]], "--sidecar", f"{ip}:8080"]
        self.procs[f"app-{name}"] = subprocess.Popen(
            cmd, env=env, stdout=self.log(f"app-{name}"), stderr=subprocess.STDOUT
        )
        nid = node_id("sidecar", ip, f"{name}-1", "default")
        self.start_envoy(name, nid, "default", inst["labels"], admin_port)

    def start_envoy(self, name: str, nid: str, namespace: str, labels: dict[str, str], admin_port: int) -> None:
        doc = bootstrap(node=nid, cluster=name, namespace=namespace, labels=labels, xds_host="127.0.0.1",
                        xds_port=self.ns.xds_port, admin_port=admin_port)  # fmt: skip
        path = self.work / f"envoy-{name}.json"
        path.write_text(json.dumps(doc, indent=2))
        self.envoys[name] = Envoy(str(path), admin_port, str(self.work / f"envoy-{name}.log"), admin_port)

    def alive(self, name: str) -> bool:
        proc = self.procs[name]
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}; see {self.work}/{name}.log")
        return True

    def lane(self, lane: str) -> list[tuple[str, str]]:
        return [(a, v) for a, v, _ in HOP.findall(self.answer(lane))]

    def answer(self, lane: str) -> str:
        status, _, body = http_get(f"http://127.0.0.1:{GATEWAY_PORT}/mock", headers={"my-request-id": lane})
        return body.decode() if status == 200 else f"HTTP {status}: {body[:100]!r}"

    def stop_instance(self, name: str) -> None:
        (self.config / f"workload-{name}.yaml").unlink()
        self.procs.pop(f"app-{name}").terminate()
        self.envoys.pop(name).stop()

    def stop(self) -> None:
        for envoy in self.envoys.values():
            envoy.stop()
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def _listening(envoy: Envoy, ip: str, port: int) -> bool:
    status, body = envoy.admin_get("/listeners")
    return status == 200 and f"::{ip}:{port}" in body.decode()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--xds-port", type=int, default=15010)
    p.add_argument("--admin-port", type=int, default=15014)
    p.add_argument("--envoy-admin-base", type=int, default=15100, help="gateway admin port; sidecars use the next six")
    p.add_argument("--check", action="store_true", help="verify the lanes and the fallback, then exit")
    ns = p.parse_args()
    try:
        find_envoy()
    except EnvoyNotFound as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    demo = Demo(ns)
    try:
        demo.start()
        print()
        for lane in ("s1", "s2", "s3"):
            print(f"  curl -H 'my-request-id: {lane}' http://127.0.0.1:{GATEWAY_PORT}/mock\n    {demo.answer(lane)}")
        if ns.check:
            print("\nstopping mockc v2: lane s2 must fall back to mockc v1 for that hop")
            demo.stop_instance("mockc-v2")
            wait_for(lambda: demo.lane("s2") == [("mocka", "v2"), ("mockb", "v1"), ("mockc", "v1")], 30, "s2 fallback")
            print(f"  s2 now: {demo.answer('s2')}")
            failures = [lane for lane in ("s1", "s3") if demo.lane(lane) != EXPECTED[lane]]
            if failures:
                print(f"check failed for lanes {failures}", file=sys.stderr)
                return 1
            print("check passed")
            return 0
        print(
            "\nTry more:\n"
            f"  - stop mockc v2 and watch s2 fall back to mockc v1 for that hop:\n"
            f"      rm {demo.config}/workload-mockc-v2.yaml\n"
            f"  - edit a lane (e.g. route s3 for mockc to v2) in {demo.config}/mesh.yaml and watch it apply\n"
            f"  - meshpilot status --server http://127.0.0.1:{ns.admin_port}\n"
            f"Logs: {demo.work}. Ctrl-C to stop."
        )
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
        while True:
            signal.pause()
    except KeyboardInterrupt:
        return 0
    except (TimeoutError, RuntimeError) as exc:
        print(f"error: {exc} (logs in {demo.work})", file=sys.stderr)
        return 1
    finally:
        # A second Ctrl-C (or SIGTERM) must not interrupt the clean-up and orphan processes.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        demo.stop()


if __name__ == "__main__":
    sys.exit(main())
