"""`make run`: meshpilot on examples/config, a real Envoy ingress gateway, two echo upstreams.

Everything runs as local processes on loopback. Prints the curl commands to try, then keeps
running until Ctrl-C. `--check` verifies the routes and exits (used by the test suite).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import signal
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from meshpilot.testing.echo import EchoServer  # noqa: E402
from meshpilot.testing.envoy import Envoy, EnvoyNotFound, find_envoy, http_get, wait_for  # noqa: E402
from meshpilot.translator.bootstrap import bootstrap, node_id  # noqa: E402

GATEWAY_PORT = 8080  # examples/config/gateway.yaml
TRIES = [
    ("default route (subset v1)", "/hello", {}),
    ("header match x-version: v2", "/hello", {"x-version": "v2"}),
    ("lane v3 has no instance: fallback to v1", "/hello", {"x-version": "v3"}),
]


def upstream(path: str, headers: dict[str, str]) -> str:
    status, _, body = http_get(f"http://127.0.0.1:{GATEWAY_PORT}{path}", headers=headers)
    try:
        return f"{status} from {json.loads(body)['name']}"
    except (ValueError, KeyError):
        return f"{status} {body[:80]!r}"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default=str(ROOT / "examples" / "config"))
    p.add_argument("--xds-port", type=int, default=15010)
    p.add_argument("--admin-port", type=int, default=15014)
    p.add_argument("--envoy-admin-port", type=int, default=15000)
    p.add_argument("--check", action="store_true", help="verify the example routes, then exit")
    ns = p.parse_args()
    try:
        envoy_bin = find_envoy()
    except EnvoyNotFound as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    work = pathlib.Path(tempfile.mkdtemp(prefix="meshpilot-run-"))
    echoes = [EchoServer("echo-v1", 18081).start(), EchoServer("echo-v2", 18082).start()]
    print("[1/3] echo upstreams: v1 on 127.0.0.1:18081, v2 on 127.0.0.1:18082")
    cmd = [sys.executable, "-m", "meshpilot.cli.main", "serve", "--config", ns.config]
    cmd += ["--xds-address", f"127.0.0.1:{ns.xds_port}", "--admin-address", f"127.0.0.1:{ns.admin_port}"]
    serve = subprocess.Popen(cmd, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    envoy: Envoy | None = None
    try:
        ready = f"http://127.0.0.1:{ns.admin_port}/ready"
        wait_for(lambda: serve.poll() is None and http_get(ready, timeout=1)[0] == 200, 30, "meshpilot /ready")
        print(f"[2/3] meshpilot serving {ns.config} on 127.0.0.1:{ns.xds_port} (admin :{ns.admin_port})")
        node = node_id("router", "127.0.0.1", "ingressgateway-1", "istio-system")
        boot = bootstrap(
            node=node,
            cluster="ingressgateway",
            namespace="istio-system",
            labels={"istio": "ingressgateway"},
            xds_host="127.0.0.1",
            xds_port=ns.xds_port,
            admin_port=ns.envoy_admin_port,
        )
        (work / "bootstrap.json").write_text(json.dumps(boot, indent=2))
        envoy = Envoy(
            str(work / "bootstrap.json"),
            ns.envoy_admin_port,
            str(work / "envoy.log"),
            os.getpid() % 50000 + 1000,
        )
        envoy.wait_ready()
        wait_for(lambda: upstream("/hello", {}).startswith("200"), 30, "the gateway route")
        print(f"[3/3] Envoy gateway on :{GATEWAY_PORT} (admin :{ns.envoy_admin_port}, log {work}/envoy.log)")
        print(f"      binary {envoy_bin}\n")
        results = []
        for what, path, headers in TRIES:
            hdr = " ".join(f"-H '{k}: {v}'" for k, v in headers.items())
            got = upstream(path, headers)
            results.append(got)
            print(f"  curl {hdr + ' ' if hdr else ''}http://127.0.0.1:{GATEWAY_PORT}{path}")
            print(f"    # {what}: {got}")
        print(
            f"\n  for i in $(seq 20); do curl -s http://127.0.0.1:{GATEWAY_PORT}/canary | head -c 20; echo; "
            "done"
            "\n    # weighted 80/20 between v1 and v2"
            f"\n  curl http://127.0.0.1:{ns.admin_port}/debug/config_dump?node={node}"
            f"\n  curl http://127.0.0.1:{ns.admin_port}/metrics"
            f"\n\nEdit {ns.config}/*.yaml and routing changes live. Ctrl-C to stop."
        )
        if ns.check:
            expected = ["200 from echo-v1", "200 from echo-v2", "200 from echo-v1"]
            if results != expected:
                print(f"check failed: got {results}, expected {expected}", file=sys.stderr)
                return 1
            print("check passed")
            return 0
        signal.signal(signal.SIGTERM, _interrupt)
        while True:
            signal.pause()
    except KeyboardInterrupt:
        return 0
    except (TimeoutError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        # A second Ctrl-C (or SIGTERM) must not interrupt the clean-up and orphan processes.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if envoy is not None:
            envoy.stop()
        serve.terminate()
        serve.wait(10)
        for e in echoes:
            e.stop()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
