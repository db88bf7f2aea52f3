"""`make run` (examples/run_gateway.py) works: meshpilot + real Envoy + upstreams, routes verified."""

from __future__ import annotations

import pathlib
import subprocess
import sys

from tests.integration.harness import free_port

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_run_gateway_example_routes_as_documented() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "run_gateway.py"), "--check", "--xds-port", str(free_port()),
         "--admin-port", str(free_port()), "--envoy-admin-port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    assert "# header match x-version: v2: 200 from echo-v2" in out.stdout
    assert "# lane v3 has no instance: fallback to v1: 200 from echo-v1" in out.stdout
    assert "check passed" in out.stdout
