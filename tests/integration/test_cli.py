"""The `meshpilot` command line, run as users run it (subprocess), with real Envoy validation."""

from __future__ import annotations

import os
import pathlib
import random
import subprocess
import sys

import yaml

from meshpilot.testing.envoy import find_envoy

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "config"
GW_NODE = "router~10.0.0.1~gw-1.istio-system~istio-system.svc.cluster.local"


def run(*args: str, cwd: pathlib.Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "meshpilot.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        timeout=60,
    )


def test_help_for_every_command() -> None:
    top = run("--help")
    assert top.returncode == 0
    for cmd in ("serve", "translate", "bootstrap"):
        assert cmd in top.stdout
        out = run(cmd, "--help")
        assert out.returncode == 0 and "usage: meshpilot " + cmd in out.stdout


def test_translate_examples_prints_resources_and_exits_zero() -> None:
    out = run("translate", "--config", str(EXAMPLES), "--node-id", GW_NODE, "--label", "istio=ingressgateway")
    assert out.returncode == 0, out.stderr
    doc = yaml.safe_load(out.stdout)
    assert [x["name"] for x in doc["listeners"]] == ["0.0.0.0_8080"]
    assert [x["name"] for x in doc["routes"]] == ["http.8080"]
    assert "outbound|80|v2|echo.default.svc.cluster.local" in [c["name"] for c in doc["clusters"]]
    assert "0 errors" in out.stderr


def test_translate_reports_bad_config_with_exit_one(tmp_path: pathlib.Path) -> None:
    for p in EXAMPLES.glob("*.yaml"):
        (tmp_path / p.name).write_text(p.read_text())
    routing = tmp_path / "echo-routing.yaml"
    routing.write_text(routing.read_text().replace("weight: 20", "weight: twenty"))
    out = run(
        "translate",
        "--config",
        str(tmp_path),
        "--node-id",
        GW_NODE,
        "--label",
        "istio=ingressgateway",
        "-o",
        "json",
    )
    assert out.returncode == 1
    assert (
        "error: echo-routing.yaml doc 2 VirtualService default/echo: spec.http[1].route[1].weight: "
        'expected integer, got string "twenty"' in out.stderr
    )
    assert "Traceback" not in out.stderr


def test_user_errors_exit_two_without_traceback(tmp_path: pathlib.Path) -> None:
    cases = [
        (("serve", "--config", str(tmp_path / "nope")), "does not exist"),
        (
            ("translate", "--config", str(EXAMPLES), "--node-id", "gateway-1"),
            "is not of the form TYPE~IP~POD.NAMESPACE~DOMAIN",
        ),
        (("bootstrap", "--label", "novalue"), "--label expects KEY=VALUE"),
        (("serve", "--config", str(EXAMPLES), "--xds-address", "15010"), "expected HOST:PORT"),
    ]
    for args, message in cases:
        out = run(*args)
        assert out.returncode == 2, (args, out.stderr)
        assert message in out.stderr, out.stderr
        assert "Traceback" not in out.stderr


def test_bootstrap_is_accepted_by_real_envoy(tmp_path: pathlib.Path) -> None:
    for fmt in ("yaml", "json"):
        path = tmp_path / f"bootstrap.{fmt}"
        out = run(
            "bootstrap", "--role", "router", "--namespace", "istio-system", "--label", "istio=ingressgateway",
            "--xds-address", "127.0.0.1:15010", "-o", fmt, "--file", str(path),
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
        doc = yaml.safe_load(path.read_text())
        assert doc["node"]["id"] == "router~127.0.0.1~router-1.istio-system~istio-system.svc.cluster.local"
        assert doc["node"]["metadata"] == {"NAMESPACE": "istio-system", "LABELS": {"istio": "ingressgateway"}}
        check = subprocess.run(
            [
                find_envoy(),
                "--mode",
                "validate",
                "-c",
                str(path),
                "--base-id",
                str(random.randint(1000, 60000)),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert check.returncode == 0, check.stdout + check.stderr
