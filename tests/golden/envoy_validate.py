"""Load translator output into the real Envoy with `envoy --mode validate`.

A golden case's resources (what meshpilot would serve over ADS) become one static bootstrap:

- each listener's HTTP connection manager gets its RouteConfiguration inline (`route_config`)
  instead of fetching it over RDS (`rds`);
- each EDS cluster becomes a STATIC cluster whose `load_assignment` is its
  ClusterLoadAssignment (and loses `eds_cluster_config`);
- every other cluster (STRICT_DNS, ORIGINAL_DST, aggregate) is kept as it is.

Every resource must be used exactly once: a route configuration no listener refers to, or an
endpoint assignment without an EDS cluster, would escape validation, so it is an error here.

Envoy runs from the repository root, so relative file paths in the resources resolve there:
golden cases point Gateway TLS settings at `tests/golden/certs/...`, and Envoy loads those
certificates while validating (a missing or mismatched file fails the case).
"""

from __future__ import annotations

import copy
import dataclasses
import pathlib
import random
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from meshpilot.testing.envoy import find_envoy

HCM_FILTER = "envoy.filters.network.http_connection_manager"
RESOURCE_TYPES = ("listeners", "routes", "clusters", "endpoints")
VALIDATE_TIMEOUT_S = 120
ROOT = pathlib.Path(__file__).resolve().parents[2]  # relative paths in resources resolve here


class BootstrapError(ValueError):
    """The resources do not fit together (a dangling or unused reference)."""


@dataclasses.dataclass(frozen=True)
class ValidateResult:
    returncode: int
    output: str
    command: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def _by_name(items: Sequence[Mapping[str, Any]], key: str, what: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        name = item.get(key)
        if not isinstance(name, str):
            raise BootstrapError(f"{what} without a {key}: {item!r}")
        if name in out:
            raise BootstrapError(f"{what} {name!r} appears twice")
        out[name] = copy.deepcopy(dict(item))
    return out


def build_bootstrap(
    resources: Mapping[str, Sequence[Mapping[str, Any]]],
    *,
    node_id: str = "router~10.0.0.1~golden.istio-system~istio-system.svc.cluster.local",
) -> dict[str, Any]:
    """A static bootstrap holding `resources` (keys: listeners, routes, clusters, endpoints)."""
    routes = _by_name(resources.get("routes", ()), "name", "route configuration")
    assignments = _by_name(resources.get("endpoints", ()), "cluster_name", "cluster load assignment")
    used_routes: set[str] = set()

    listeners = [copy.deepcopy(dict(lst)) for lst in resources.get("listeners", ())]
    for listener in listeners:
        for chain in listener.get("filter_chains", []):
            for flt in chain.get("filters", []):
                if flt.get("name") != HCM_FILTER:
                    continue
                hcm = flt.get("typed_config", {})
                rds = hcm.pop("rds", None)
                if rds is None:
                    continue
                name = rds.get("route_config_name")
                if name not in routes:
                    raise BootstrapError(
                        f"listener {listener.get('name')!r} refers to route configuration {name!r}, "
                        f"which routes.yaml does not define (defined: {sorted(routes)})"
                    )
                hcm["route_config"] = routes[name]
                used_routes.add(name)
    unused = sorted(set(routes) - used_routes)
    if unused:
        raise BootstrapError(f"route configurations no listener refers to: {unused}")

    clusters = [copy.deepcopy(dict(c)) for c in resources.get("clusters", ())]
    used_assignments: set[str] = set()
    for cluster in clusters:
        if cluster.get("type") != "EDS":
            continue
        name = cluster.get("name")
        eds = cluster.pop("eds_cluster_config", {}) or {}
        service_name = eds.get("service_name") or name
        if service_name not in assignments:
            raise BootstrapError(f"EDS cluster {name!r} has no ClusterLoadAssignment {service_name!r}")
        cla = copy.deepcopy(assignments[service_name])
        cla["cluster_name"] = name
        cluster["type"] = "STATIC"
        cluster["load_assignment"] = cla
        used_assignments.add(service_name)
    orphans = sorted(set(assignments) - used_assignments)
    if orphans:
        raise BootstrapError(f"ClusterLoadAssignments without an EDS cluster: {orphans}")

    return {
        "node": {"id": node_id, "cluster": "golden"},
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}}},
        "static_resources": {"listeners": listeners, "clusters": clusters},
    }


def validate_bootstrap(bootstrap: Mapping[str, Any], *, envoy: str | None = None) -> ValidateResult:
    """Run `envoy --mode validate` on `bootstrap` (raises EnvoyNotFound if there is no Envoy)."""
    binary = envoy or find_envoy()
    with tempfile.TemporaryDirectory(prefix="meshpilot-golden-") as tmp:
        path = pathlib.Path(tmp) / "bootstrap.yaml"
        path.write_text(yaml.safe_dump(dict(bootstrap), sort_keys=False))
        cmd = (
            binary,
            "--mode",
            "validate",
            "-c",
            str(path),
            "--base-id",
            str(random.randint(10000, 60000)),
            "--log-level",
            "warn",
        )
        proc = subprocess.run(
            cmd,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            timeout=VALIDATE_TIMEOUT_S,
            check=False,
        )
    return ValidateResult(proc.returncode, proc.stdout, cmd)


def load_case_resources(case_dir: pathlib.Path) -> dict[str, list[dict[str, Any]]]:
    """The golden outputs of one case, as lists of plain dicts (raises FileNotFoundError)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for kind in RESOURCE_TYPES:
        data = yaml.safe_load((case_dir / f"{kind}.yaml").read_text())
        if not isinstance(data, list):
            raise BootstrapError(f"{case_dir.name}/{kind}.yaml: expected a list, got {type(data).__name__}")
        out[kind] = data
    return out
