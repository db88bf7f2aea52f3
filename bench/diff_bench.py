"""`meshpilot diff` timings: `python -m bench.diff_bench [--services 3334] [--repeat 3]`.

Builds a mesh with bench.run's generator (5 clusters, 5 load assignments and 3 routes per
service, all routes in one RouteConfiguration), translates it for one gateway proxy and saves
the snapshot as `meshpilot translate -o json` would. NEW is the same mesh with one weight
changed and the last service deleted. Times (median of --repeat runs):

- cli: `meshpilot diff old.json new.json` end to end in a new process, as users run it
  (interpreter start, imports, load, compare, render, exit);
- load: reading both saved snapshots (JSON parse + indexing by name);
- compare: the differ on the loaded snapshots (the cheap equality checks on every resource,
  normalisation and field diff of the changed ones);
- text, json: rendering the result;
- equal: comparing a snapshot with a copy of itself;
- envoy: comparing the snapshot with an Envoy-style /config_dump of it (as Envoy 1.40 dumps it:
  admin wrappers, versions, timestamps, rebuilt endpoints), which must come out equal;
- roundtrip: for scale, parsing every resource of one side through its protobuf class and
  re-rendering it, which the differ only does for resources that differ after the cheap checks.

In-process phases run with the cycle collector off, as `meshpilot diff` runs.
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from bench.run import PROXY, mesh_files
from meshpilot.diff import compare, load_sides, render_json, render_text
from meshpilot.diff.normalize import canonical
from meshpilot.diff.snapshots import TYPES
from meshpilot.model.loader import ConfigLoader
from meshpilot.translator import build_context, translate
from meshpilot.translator.render import plain_all


def snapshot(files: dict[str, str]) -> dict[str, Any]:
    t = translate(build_context(ConfigLoader().load(files).store), PROXY)
    return {
        "node_id": PROXY.node_id,
        "listeners": plain_all(t.listeners),
        "routes": plain_all(t.routes),
        "clusters": plain_all(t.clusters),
        "endpoints": plain_all(t.endpoints),
    }


def envoy_dump(snap: dict[str, Any]) -> dict[str, Any]:
    """What Envoy 1.40's /config_dump?include_eds looks like after receiving `snap`."""
    admin = "type.googleapis.com/envoy.admin.v3."
    v3 = "type.googleapis.com/envoy.config."
    ts = "2026-01-01T00:00:00.000Z"
    endpoints = []
    for cla in copy.deepcopy(snap["endpoints"]):
        cla.setdefault("policy", {}).setdefault("overprovisioning_factor", 140)
        for loc in cla.get("endpoints", []):
            for lb in loc.get("lb_endpoints", []):
                lb["endpoint"]["health_check_config"] = {}
        endpoints.append({"endpoint_config": {"@type": f"{v3}endpoint.v3.ClusterLoadAssignment", **cla}})
    return {
        "configs": [
            {"@type": f"{admin}BootstrapConfigDump", "bootstrap": {"node": {"id": snap["node_id"]}}},
            {
                "@type": f"{admin}ClustersConfigDump",
                "version_info": "v1",
                "dynamic_active_clusters": [
                    {"version_info": "v1", "cluster": {"@type": f"{v3}cluster.v3.Cluster", **c}, "last_updated": ts}
                    for c in snap["clusters"]
                ],
            },
            {"@type": f"{admin}EndpointsConfigDump", "dynamic_endpoint_configs": endpoints},
            {
                "@type": f"{admin}ListenersConfigDump",
                "version_info": "v1",
                "dynamic_listeners": [
                    {
                        "name": x["name"],
                        "active_state": {
                            "version_info": "v1",
                            "listener": {"@type": f"{v3}listener.v3.Listener", **x},
                            "last_updated": ts,
                        },
                    }
                    for x in snap["listeners"]
                ],
            },
            {
                "@type": f"{admin}RoutesConfigDump",
                "dynamic_route_configs": [
                    {
                        "version_info": "v1",
                        "route_config": {"@type": f"{v3}route.v3.RouteConfiguration", **r},
                        "last_updated": ts,
                    }
                    for r in snap["routes"]
                ],
            },
        ]
    }


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        result = None
        gc.collect()
        gc.disable()
        try:
            t0 = time.perf_counter()
            result = fn()
            times.append(time.perf_counter() - t0)
        finally:
            gc.enable()
    return statistics.median(times), result


def cli(old: str, new: str, repeat: int) -> float:
    root = pathlib.Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=str(root))
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-m", "meshpilot.cli.main", "diff", old, new], capture_output=True, env=env
        )
        times.append(time.perf_counter() - t0)
        assert out.returncode == 1, out.stderr
    return statistics.median(times)


def run(services: int, repeat: int) -> dict[str, Any]:
    files = mesh_files(services)
    edited = dict(files)
    edited["services-000000.yaml"] = edited["services-000000.yaml"].replace("weight: 90", "weight: 80", 1)
    last = max(k for k in files if k.startswith("services-"))
    docs = edited[last].split("---\n")
    edited[last] = "---\n".join(docs[:-5])  # the last service's 5 objects
    old, new = snapshot(files), snapshot(edited)
    with tempfile.TemporaryDirectory() as tmp:
        paths = {name: pathlib.Path(tmp) / f"{name}.json" for name in ("old", "new", "envoy")}
        paths["old"].write_text(json.dumps(old))
        paths["new"].write_text(json.dumps(new))
        paths["envoy"].write_text(json.dumps(envoy_dump(old)))
        counts = {t: len(old[t]) for t in TYPES}
        routes = sum(len(vh.get("routes", [])) for rc in old["routes"] for vh in rc.get("virtual_hosts", []))
        del old, new  # measure with what the CLI has in memory, not the generator's copies too
        no_dirs = {"read_dir": lambda p: {}}
        a, b = str(paths["old"]), str(paths["new"])
        load_s, (so, sn) = timed(lambda: load_sides(a, b, **no_dirs), repeat)  # type: ignore[arg-type]
        compare_s, result = timed(lambda: compare(so, sn), repeat)
        text_s, text = timed(lambda: render_text(result), repeat)
        json_s, _ = timed(lambda: render_json(result), repeat)

        cli_s = cli(a, b, repeat)
        so2, so3 = load_sides(a, a, **no_dirs)  # type: ignore[arg-type]
        equal_s, same = timed(lambda: compare(so2, so3), repeat)
        assert not same.different
        se, sa = load_sides(str(paths["envoy"]), a, **no_dirs)  # type: ignore[arg-type]
        envoy_s, vs_envoy = timed(lambda: compare(se, sa), repeat)
        assert not vs_envoy.different, render_text(vs_envoy)[:2000]
        proxy = next(iter(so.proxies.values()))
        everything = [r for t in TYPES for r in proxy.resources[t].values()]
        roundtrip_s, _ = timed(lambda: [canonical(r.type, r.raw, False) for r in everything], 1)
        size_mib = paths["old"].stat().st_size / 2**20
    return {
        "services": services,
        "clusters": counts["clusters"],
        "routes": routes,
        "endpoints": counts["endpoints"],
        "snapshot_mib": size_mib,
        "load_ms": load_s * 1000,
        "compare_ms": compare_s * 1000,
        "text_ms": text_s * 1000,
        "json_ms": json_s * 1000,
        "cli_ms": cli_s * 1000,
        "equal_ms": equal_s * 1000,
        "envoy_ms": envoy_s * 1000,
        "roundtrip_ms": roundtrip_s * 1000,
        "summary": text.strip().splitlines()[-1],
    }


def main() -> None:
    p = argparse.ArgumentParser(description="meshpilot diff benchmark")
    p.add_argument("--services", default="3334", help="comma-separated service counts (3334: 10,000 routes)")
    p.add_argument("--repeat", type=int, default=3)
    ns = p.parse_args()
    print(f"# meshpilot diff benchmark — Python {platform.python_version()}, {platform.machine()}")
    cols = ["services", "clusters", "routes", "endpoints", "snapshot_mib", "cli_ms", "load_ms", "compare_ms",
            "text_ms", "json_ms", "equal_ms", "envoy_ms", "roundtrip_ms"]  # fmt: skip
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    summaries = []
    for n in (int(x) for x in ns.services.split(",")):
        row = run(n, ns.repeat)
        cells = [f"{row[c]:.1f}" if isinstance(row[c], float) else str(row[c]) for c in cols]
        print("| " + " | ".join(cells) + " |", flush=True)
        summaries.append(f"{n} services: {row['summary']}")
    print("\n".join(summaries))


if __name__ == "__main__":
    main()
