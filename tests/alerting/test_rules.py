"""The shipped alert rules, checked and unit-tested with the real `promtool` (Debian package).

Each case feeds input series to `promtool test rules` and states which alert must fire with
which labels, and when it must not. Expected annotations are rendered from the rules file
(label and value substitution), so the test also proves every template renders.
"""

from __future__ import annotations

import pathlib
import re
import shutil
import subprocess
from typing import Any

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "meshpilot-alerts.yaml"
JOB = {"job": "meshpilot", "instance": "127.0.0.1:15014"}


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool not found: install Debian's prometheus package (make test does)")
    return found


def rules() -> dict[str, dict[str, Any]]:
    doc = yaml.safe_load(RULES.read_text())
    return {r["alert"]: r for g in doc["groups"] for r in g["rules"]}


def _go_value(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(v)


def render(template: str, labels: dict[str, str], value: float) -> str:
    out = re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels.get(m.group(1), ""), template)
    return out.replace("{{ $value }}", _go_value(value))


def series(name: str, labels: dict[str, str], values: str) -> dict[str, str]:
    lab = ", ".join(f'{k}="{v}"' for k, v in {**labels, **JOB}.items())
    return {"series": f"{name}{{{lab}}}", "values": values}


# alert, input series, [(eval time, expected alert labels or None, value for templates)]
CASES: list[tuple[str, list[dict[str, str]], list[tuple[str, dict[str, str] | None, float]]]] = [
    (
        "MeshpilotProxyRejectedConfig",
        [series("meshpilot_xds_proxy_nacked", {"node_id": "gw-1", "type": "CDS"}, "0 1 1 0")],
        [("0m", None, 0), ("1m", {"node_id": "gw-1", "type": "CDS"}, 1), ("3m", None, 0)],
    ),
    (
        "MeshpilotConfigRejected",
        [series("meshpilot_config_rejected_documents", {"kind": "VirtualService"}, "0 2 2 2 0")],
        [("1m", None, 0), ("2m", {"kind": "VirtualService"}, 2), ("4m", None, 0)],
    ),
    (
        "MeshpilotConfigConflicts",
        [series("meshpilot_config_conflicts", {}, "1x15")],
        [("5m", None, 0), ("12m", {}, 1)],
    ),
    (
        "MeshpilotProxyStale",
        [
            series(
                "meshpilot_xds_proxy_unacked_seconds",
                {"node_id": "gw-1", "type": "EDS"},
                "0 200 400 460 520 0",
            )
        ],
        [("2m", None, 0), ("3m", {"node_id": "gw-1", "type": "EDS"}, 460), ("5m", None, 0)],
    ),
    (
        "MeshpilotNoProxiesConnected",
        [
            series("meshpilot_xds_connected_proxies", {"proxy_type": "router"}, "1 0x10"),
            series("meshpilot_xds_connected_proxies", {"proxy_type": "sidecar"}, "0x11"),
        ],
        [("0m", None, 0), ("4m", None, 0), ("7m", {}, 0)],
    ),
    (
        "MeshpilotConfigLoadFailing",
        [series("meshpilot_config_loads_total", {"outcome": "error"}, "0 0 1 1 1 1 1 1 1 1 1 1 1 1 1")],
        [("1m", None, 0), ("3m", {"outcome": "error"}, 1), ("14m", None, 0)],
    ),
    (
        "MeshpilotSnapshotInconsistent",
        [series("meshpilot_snapshot_inconsistent_total", {}, "0 0 1 1")],
        [("1m", None, 0), ("3m", {}, 1)],
    ),
    (
        "MeshpilotDown",
        [series("up", {}, "1 0 0 0")],
        [("1m", None, 0), ("3m", {}, 0)],
    ),
]


def _expected(alert: str, labels: dict[str, str] | None, value: float) -> list[dict[str, Any]]:
    if labels is None:
        return []
    rule = rules()[alert]
    all_labels = {**labels, **rule["labels"]}
    if alert in (
        "MeshpilotConfigLoadFailing",
        "MeshpilotSnapshotInconsistent",
        "MeshpilotDown",
        "MeshpilotConfigConflicts",
    ):
        all_labels = {**all_labels, **JOB}  # these keep the series' own labels
    annotations = {k: render(v, all_labels, value) for k, v in rule["annotations"].items()}
    return [{"exp_labels": all_labels, "exp_annotations": annotations}]


def test_rules_pass_promtool_check() -> None:
    out = subprocess.run([promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"SUCCESS: {len(rules())} rules found" in out.stdout


def test_every_rule_has_a_case_summary_description_and_runbook() -> None:
    runbooks = (ROOT / "docs" / "runbooks.md").read_text()
    covered = {c[0] for c in CASES} | {"MeshpilotConvergenceSlow"}
    for name, rule in rules().items():
        assert name in covered, f"{name} has no promtool case"
        assert {"summary", "description", "runbook"} <= set(rule["annotations"]), name
        anchor = rule["annotations"]["runbook"].split("#")[1]
        assert f"## {name}" in runbooks and anchor == name.lower(), name


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_alert_fires_and_resolves(case: Any, tmp_path: pathlib.Path) -> None:
    alert, input_series, evals = case
    test = {
        "rule_files": [str(RULES)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": input_series,
                "alert_rule_test": [
                    {"eval_time": t, "alertname": alert, "exp_alerts": _expected(alert, labels, value)}
                    for t, labels, value in evals
                ],
            }
        ],
    }
    path = tmp_path / "test.yaml"
    path.write_text(yaml.safe_dump(test, sort_keys=False))
    out = subprocess.run([promtool(), "test", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


def test_convergence_alert_on_slow_p99(tmp_path: pathlib.Path) -> None:
    """Histogram rule: p99 above 5 s for 10 minutes fires; fast convergence does not."""
    slow = [
        series("meshpilot_proxy_convergence_seconds_bucket", {"type": "CDS", "le": le}, values)
        for le, values in (("1", "0+0x30"), ("5", "0+0x30"), ("10", "0+10x30"), ("+Inf", "0+10x30"))
    ]
    fast = [
        series("meshpilot_proxy_convergence_seconds_bucket", {"type": "CDS", "le": le}, "0+10x30")
        for le in ("1", "5", "10", "+Inf")
    ]
    for input_series, fires in ((slow, True), (fast, False)):
        rule = rules()["MeshpilotConvergenceSlow"]
        exp: list[dict[str, Any]] = []
        if fires:
            exp = [
                {
                    "exp_labels": rule["labels"],
                    "exp_annotations": {k: render(v, {}, 9.95) for k, v in rule["annotations"].items()},
                }
            ]
        test = {
            "rule_files": [str(RULES)],
            "evaluation_interval": "1m",
            "tests": [
                {
                    "interval": "1m",
                    "input_series": input_series,
                    "alert_rule_test": [
                        {"eval_time": "25m", "alertname": "MeshpilotConvergenceSlow", "exp_alerts": exp}
                    ],
                }
            ],
        }
        path = tmp_path / "convergence.yaml"
        path.write_text(yaml.safe_dump(test, sort_keys=False))
        out = subprocess.run([promtool(), "test", "rules", str(path)], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stdout + out.stderr
