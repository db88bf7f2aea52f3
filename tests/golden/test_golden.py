"""Golden translator tests, in the style of Envoy Gateway's xds translator testdata.

Each directory under `cases/` is one case:

- `input.yaml`  Istio-shaped config (multi-document YAML), loaded with ConfigLoader;
- `proxy.yaml`  the proxy the config is translated for: `node_id`, `labels`, `namespace`, and
  optionally `locality` (region/zone/subzone);
- `listeners.yaml`, `routes.yaml`, `clusters.yaml`, `endpoints.yaml`: the translator's resources,
  rendered with `plain()` (proto field names, map keys sorted) as YAML lists;
- `diagnostics.yaml`: the translator's diagnostics (`Diagnostic.as_dict()`);
- `expect-rejected` (optional, empty): the loader is expected to reject some document of
  `input.yaml`; without it any rejected document fails the case.

`pytest tests/golden --update-goldens` rewrites the outputs from the current translator; review
the diff before committing it. Every case's outputs are also loaded by the real Envoy
(`envoy --mode validate`) as one static bootstrap, see envoy_validate.py.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import pathlib
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from meshpilot.model.loader import ConfigLoader
from meshpilot.model.proxy import Proxy, parse_proxy
from meshpilot.testing.envoy import EnvoyNotFound, find_envoy
from meshpilot.translator import Translation, translate_store
from meshpilot.translator.render import plain_all
from tests.golden.envoy_validate import (
    RESOURCE_TYPES,
    BootstrapError,
    build_bootstrap,
    load_case_resources,
    validate_bootstrap,
)

CASES_DIR = pathlib.Path(__file__).resolve().parent / "cases"
OUTPUTS = (*RESOURCE_TYPES, "diagnostics")
INPUT, PROXY, EXPECT_REJECTED = "input.yaml", "proxy.yaml", "expect-rejected"
ALLOWED_FILES = {INPUT, PROXY, EXPECT_REJECTED, *(f"{kind}.yaml" for kind in OUTPUTS)}
PROXY_KEYS = {"node_id", "labels", "namespace", "locality"}
# The case whose routes.yaml has a `safe_regex` route match; the negative Envoy test breaks it.
REGEX_CASE = "match-conditions"


def _case_names() -> list[str]:
    if not CASES_DIR.is_dir():
        return []
    return sorted(p.name for p in CASES_DIR.iterdir() if p.is_dir() and not p.name.startswith("."))


CASES = _case_names()


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    dir: pathlib.Path
    proxy: Proxy
    translation: Translation

    def render(self) -> dict[str, str]:
        """Each output file's expected text."""
        t = self.translation
        docs: dict[str, list[dict[str, Any]]] = {
            "listeners": plain_all(t.listeners),
            "routes": plain_all(t.routes),
            "clusters": plain_all(t.clusters),
            "endpoints": plain_all(t.endpoints),
            "diagnostics": [d.as_dict() for d in t.diagnostics],
        }
        return {kind: yaml.safe_dump(docs[kind], sort_keys=False) for kind in OUTPUTS}


def _read_proxy(case_dir: pathlib.Path) -> Proxy:
    path = case_dir / PROXY
    if not path.is_file():
        pytest.fail(f"{case_dir.name}: {PROXY} is missing (node_id, labels, namespace)")
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict) or not isinstance(data.get("node_id"), str):
        pytest.fail(f"{case_dir.name}/{PROXY}: expected a mapping with a node_id string, got {data!r}")
    unknown = sorted(set(data) - PROXY_KEYS)
    if unknown:
        pytest.fail(f"{case_dir.name}/{PROXY}: unknown keys {unknown}; expected {sorted(PROXY_KEYS)}")
    metadata: dict[str, Any] = {"LABELS": data.get("labels") or {}}
    if data.get("namespace"):
        metadata["NAMESPACE"] = data["namespace"]
    return parse_proxy(data["node_id"], metadata, str(data.get("locality") or ""))


def load_case(name: str) -> Case:
    """Load and translate one case; fails the test on a malformed case directory."""
    case_dir = CASES_DIR / name
    unexpected = sorted(p.name for p in case_dir.iterdir() if p.name not in ALLOWED_FILES)
    if unexpected:
        pytest.fail(f"{name}: unexpected files {unexpected}; a case holds only {sorted(ALLOWED_FILES)}")
    if not (case_dir / INPUT).is_file():
        pytest.fail(f"{name}: {INPUT} is missing")
    result = ConfigLoader().load({INPUT: (case_dir / INPUT).read_text()})
    problems = [str(d) for d in (*result.rejected, *result.warnings)]
    if (case_dir / EXPECT_REJECTED).exists():
        if not result.rejected:
            pytest.fail(f"{name}: has an {EXPECT_REJECTED} marker but the loader rejected nothing")
    elif problems:
        pytest.fail(
            f"{name}: the loader did not accept every document of {INPUT} "
            f"(add an {EXPECT_REJECTED} marker file if that is the point of the case):\n  " + "\n  ".join(problems)
        )
    proxy = _read_proxy(case_dir)
    return Case(name, case_dir, proxy, translate_store(result.store, proxy))


def _diff(name: str, kind: str, expected: str, actual: str) -> str:
    return "".join(
        difflib.unified_diff(
            expected.splitlines(keepends=True),
            actual.splitlines(keepends=True),
            fromfile=f"cases/{name}/{kind}.yaml (golden)",
            tofile=f"cases/{name}/{kind}.yaml (translator)",
        )
    )


def test_cases_exist() -> None:
    assert len(CASES) >= 8, f"expected at least 8 golden cases in {CASES_DIR}, found {CASES}"
    assert REGEX_CASE in CASES


@pytest.mark.parametrize("name", CASES)
def test_golden(name: str, request: pytest.FixtureRequest) -> None:
    case = load_case(name)
    rendered = case.render()
    again = load_case(name).render()
    assert rendered == again, f"{name}: translating the same input twice gave different output"

    if request.config.getoption("--update-goldens"):
        for kind, text in rendered.items():
            path = case.dir / f"{kind}.yaml"
            if not path.is_file() or path.read_text() != text:
                path.write_text(text)
        return

    failures = []
    for kind, actual in rendered.items():
        path = case.dir / f"{kind}.yaml"
        if not path.is_file():
            failures.append(f"{kind}.yaml is missing")
            continue
        expected = path.read_text()
        if expected != actual:
            failures.append(_diff(name, kind, expected, actual))
    if failures:
        pytest.fail(
            f"{name}: translator output differs from the goldens "
            "(if the change is intended, run `pytest tests/golden --update-goldens` and review the diff):\n"
            + "\n".join(failures),
            pytrace=False,
        )


# ---------------------------------------------------------------------------- real Envoy


@pytest.fixture(scope="module")
def envoy_binary() -> str:
    """The goldens must load in the real Envoy: a missing binary is a failure, never a skip."""
    try:
        return find_envoy()
    except EnvoyNotFound as exc:
        pytest.fail(f"golden outputs must be validated by the real Envoy: {exc}")


def _golden_resources(name: str) -> dict[str, list[dict[str, Any]]]:
    try:
        return load_case_resources(CASES_DIR / name)
    except FileNotFoundError as exc:
        pytest.fail(f"{name}: golden output missing ({exc}); run `pytest tests/golden --update-goldens`")


def _bootstrap(name: str, resources: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    try:
        return build_bootstrap(resources, node_id=load_case(name).proxy.node_id)
    except BootstrapError as exc:
        pytest.fail(f"{name}: the golden resources do not fit together: {exc}")


@pytest.mark.envoy
@pytest.mark.parametrize("name", CASES)
def test_envoy_accepts_golden(name: str, envoy_binary: str) -> None:
    bootstrap = _bootstrap(name, _golden_resources(name))
    result = validate_bootstrap(bootstrap, envoy=envoy_binary)
    if not result.ok:
        pytest.fail(
            f"{name}: Envoy rejected the golden resources (exit {result.returncode}):\n"
            f"$ {' '.join(result.command)}\n{result.output}\n"
            f"--- bootstrap ---\n{yaml.safe_dump(bootstrap, sort_keys=False)}",
            pytrace=False,
        )


def _regex_matches(resources: dict[str, list[dict[str, Any]]]) -> Iterator[dict[str, Any]]:
    for rc in resources["routes"]:
        for vhost in rc.get("virtual_hosts", []):
            for route in vhost.get("routes", []):
                if "safe_regex" in route.get("match", {}):
                    yield route["match"]["safe_regex"]


@pytest.mark.envoy
def test_envoy_rejects_bad_regex(envoy_binary: str) -> None:
    """The validator is not a rubber stamp: a route with an invalid regex must fail validation."""
    resources = _golden_resources(REGEX_CASE)
    good = validate_bootstrap(_bootstrap(REGEX_CASE, resources), envoy=envoy_binary)
    assert good.ok, f"control: Envoy rejected the unmodified {REGEX_CASE} goldens:\n{good.output}"

    broken = copy.deepcopy(resources)
    regex = next(_regex_matches(broken), None)
    assert regex is not None, f"{REGEX_CASE}/routes.yaml has no route with a safe_regex match"
    regex["regex"] = "("
    result = validate_bootstrap(_bootstrap(REGEX_CASE, broken), envoy=envoy_binary)
    assert not result.ok, f"Envoy accepted the route regex '(':\n{result.output}"
    # RE2's complaint, e.g. "error initializing configuration '...': missing ): ("
    assert "missing )" in result.output, f"Envoy failed for another reason:\n{result.output}"
