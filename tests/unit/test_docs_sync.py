"""docs/operations.md documents every event (with its keys), metric and alert that ships."""

from __future__ import annotations

import pathlib
import re

import yaml

from meshpilot.observe import metrics
from meshpilot.observe.events import CATALOG

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "operations.md").read_text()


def test_every_event_is_documented_with_its_level_and_keys() -> None:
    rows = {m.group(1): m for m in re.finditer(r"^\| `([a-z_.]+)` \| (\w+) \| ([^|]*) \|", DOC, re.M)}
    for name, spec in CATALOG.items():
        assert name in rows, f"event {name} is not documented"
        assert rows[name].group(2) == spec.level, name
        documented = re.findall(r"`(\w+)`", rows[name].group(3))
        assert documented == list(spec.keys), (name, documented, spec.keys)


def test_every_metric_is_documented() -> None:
    names = {m.name for m in metrics.REGISTRY.collect()}
    # Counters are exposed with a _total suffix; the family name drops it.
    for name in names:
        assert f"`{name}`" in DOC or f"`{name}_total`" in DOC, f"metric {name} is not documented"


def test_every_alert_is_documented() -> None:
    rules = yaml.safe_load((ROOT / "deploy" / "prometheus" / "meshpilot-alerts.yaml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert f"`{rule['alert']}`" in DOC, rule["alert"]
