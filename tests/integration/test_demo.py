"""The traffic-lane demo: `make demo` end to end, and docker-compose.yml validated."""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys

import pytest
import yaml

from tests.integration.harness import free_port

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "demo"


def test_make_demo_lanes_and_fallback() -> None:
    out = subprocess.run(
        [sys.executable, str(DEMO / "run_local.py"), "--check", "--xds-port", str(free_port()),
         "--admin-port", str(free_port()), "--envoy-admin-base", str(free_port())],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    answers = {
        line.split("my-request-id: ")[1][:2]: lines[i + 1].strip() for i, line in enumerate(lines) if "curl -H" in line
    }
    assert answers["s1"].startswith("-> mocka(version: v1, ip: 127.0.0.11)-> mockb(version: v1, ip: 127.0.0.13)")
    assert answers["s1"].endswith("-> mockc(version: v1, ip: 127.0.0.15)")
    assert answers["s2"] == (
        "-> mocka(version: v2, ip: 127.0.0.12)-> mockb(version: v1, ip: 127.0.0.13)"
        "-> mockc(version: v2, ip: 127.0.0.16)"
    )
    assert answers["s3"] == (
        "-> mocka(version: v1, ip: 127.0.0.11)-> mockb(version: v3, ip: 127.0.0.14)"
        "-> mockc(version: v1, ip: 127.0.0.15)"
    )
    assert (
        "s2 now: -> mocka(version: v2, ip: 127.0.0.12)-> mockb(version: v1, ip: 127.0.0.13)-> mockc(version: v1"
        in out.stdout
    )
    assert "check passed" in out.stdout


def test_docker_compose_file_is_valid_and_matches_the_demo_config() -> None:
    compose = shutil.which("docker-compose")
    if compose is None:
        pytest.fail("docker-compose not found: install Debian's docker-compose (make test does)")
    out = subprocess.run(
        [compose, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    spec = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    workloads = list(yaml.safe_load_all((DEMO / "workloads-compose.yaml").read_text()))
    # Every WorkloadEntry's address is the address of the compose service of that name, whose
    # sidecar shares its network namespace; the same mesh config is mounted for meshpilot.
    for we in workloads:
        name = we["metadata"]["name"]
        assert spec["services"][name]["networks"]["demo"]["ipv4_address"] == we["spec"]["address"]
        assert spec["services"][f"{name}-sidecar"]["network_mode"] == f"service:{name}"
    assert "./examples/demo/config:/config/base:ro" in spec["services"]["meshpilot"]["volumes"]
    local = [we["metadata"]["name"] for we in yaml.safe_load_all((DEMO / "workloads-local.yaml").read_text())]
    assert local == [we["metadata"]["name"] for we in workloads]
