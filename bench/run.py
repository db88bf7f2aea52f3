"""meshpilot benchmarks: `make bench` (or `python -m bench.run [--sizes 100,1000]`).

Generates a mesh of N services (Service + DestinationRule with 3 subsets + 2 WorkloadEntries +
a VirtualService bound to one gateway with a header route, a weighted route and a fallback)
and measures, per size: YAML load (decode + validate), translation for one gateway proxy,
snapshot build (serialize + hash), an incremental one-object edit, the first ADS response
of the protocol core, and peak Python memory. Times are the median of --repeat runs.
"""

from __future__ import annotations

import argparse
import gc
import platform
import statistics
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from envoy.service.discovery.v3 import discovery_pb2

from meshpilot.model.loader import ConfigLoader
from meshpilot.model.proxy import parse_proxy
from meshpilot.translator import build_context, translate
from meshpilot.translator.clusters import ClusterMemo
from meshpilot.xds.cache import snapshot_of
from meshpilot.xds.protocol import SotwStream
from meshpilot.xds.snapshot import CLUSTER, PackCache

GATEWAY = """apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: ingress, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 8080, name: http, protocol: HTTP}
    hosts: ["*"]
"""

SERVICE = """---
apiVersion: v1
kind: Service
metadata: {{name: svc-{i}, namespace: ns-{ns}}}
spec:
  selector: {{app: svc-{i}}}
  ports: [{{name: http, port: 80}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: svc-{i}, namespace: ns-{ns}}}
spec:
  host: svc-{i}
  subsets:
  - {{name: v1, labels: {{version: v1}}}}
  - {{name: v2, labels: {{version: v2}}}}
  - {{name: v3, labels: {{version: v3}}}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {{name: svc-{i}-v1, namespace: ns-{ns}}}
spec: {{address: 10.{a}.{b}.1, ports: {{http: 8080}}, labels: {{app: svc-{i}, version: v1}}}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {{name: svc-{i}-v2, namespace: ns-{ns}}}
spec: {{address: 10.{a}.{b}.2, ports: {{http: 8080}}, labels: {{app: svc-{i}, version: v2}}}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: svc-{i}, namespace: ns-{ns}}}
spec:
  hosts: [svc-{i}.example.com]
  gateways: [istio-system/ingress]
  http:
  - match: [{{headers: {{x-version: {{exact: v2}}}}}}]
    route: [{{destination: {{host: svc-{i}, subset: v2}}}}]
  - match: [{{headers: {{x-lane: {{exact: v3}}}}}}]
    route:
    - destination: {{host: svc-{i}, subset: v3}}
      fallback: {{target: {{host: svc-{i}, subset: v1}}}}
  - route:
    - {{destination: {{host: svc-{i}, subset: v1}}, weight: 90}}
    - {{destination: {{host: svc-{i}, subset: v2}}, weight: 10}}
"""

PROXY = parse_proxy(
    "router~10.0.0.1~gw-1.istio-system~istio-system.svc.cluster.local",
    {"LABELS": {"istio": "ingressgateway"}},
)


def mesh_files(n: int, per_file: int = 100) -> dict[str, str]:
    files: dict[str, str] = {"gateway.yaml": GATEWAY}
    for start in range(0, n, per_file):
        files[f"services-{start:06d}.yaml"] = "".join(
            SERVICE.format(i=i, ns=i % 10, a=i // 250, b=i % 250) for i in range(start, min(n, start + per_file))
        )
    return files


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def bench_size(n: int, repeat: int) -> dict[str, Any]:
    files = mesh_files(n)
    load_s, result = timed(lambda: ConfigLoader().load(files), repeat)
    assert not result.rejected, result.rejected[:3]
    store = result.store
    translate_s, t = timed(lambda: translate(build_context(store), PROXY), repeat)
    snapshot_s, snap = timed(lambda: snapshot_of(t), repeat)
    edited = dict(files)
    edited["services-000000.yaml"] = edited["services-000000.yaml"].replace("weight: 90", "weight: 80", 1)
    loader = ConfigLoader()
    memo, packs = ClusterMemo(), PackCache()  # as the running server keeps them across revisions
    snapshot_of(translate(build_context(loader.load(files).store), PROXY, memo), packs)
    packs.finish()

    def edit() -> Any:
        s = loader.load(edited).store
        snap = snapshot_of(translate(build_context(s), PROXY, memo), packs)
        packs.finish()
        return snap

    edit_s, _ = timed(edit, repeat)

    def first_push() -> Any:
        stream = SotwStream()
        stream.set_snapshot(snap)
        return stream.handle_request(discovery_pb2.DiscoveryRequest(type_url=CLUSTER))

    push_s, _ = timed(first_push, repeat)
    tracemalloc.start()
    snapshot_of(translate(build_context(ConfigLoader().load(files).store), PROXY))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    size = sum(r.packed.ByteSize() for by in snap.resources.values() for r in by.values())
    return {
        "services": n,
        "objects": len(store),
        "clusters": len(t.clusters),
        "routes": sum(len(vh.routes) for rc in t.routes for vh in rc.virtual_hosts),
        "load_ms": load_s * 1000,
        "translate_ms": translate_s * 1000,
        "snapshot_ms": snapshot_s * 1000,
        "edit_ms": edit_s * 1000,
        "cds_push_ms": push_s * 1000,
        "peak_mib": peak / 2**20,
        "snapshot_mib": size / 2**20,
    }


def main() -> None:
    p = argparse.ArgumentParser(description="meshpilot benchmarks")
    p.add_argument("--sizes", default="100,1000,5000", help="comma-separated service counts")
    p.add_argument("--repeat", type=int, default=3)
    ns = p.parse_args()
    print(f"# meshpilot benchmarks — Python {platform.python_version()}, {platform.machine()}, "
          f"{platform.processor() or 'cpu'}")  # fmt: skip
    cols = ["services", "objects", "clusters", "routes", "load_ms", "translate_ms", "snapshot_ms",
            "edit_ms", "cds_push_ms", "peak_mib", "snapshot_mib"]  # fmt: skip
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for n in (int(x) for x in ns.sizes.split(",")):
        row = bench_size(n, ns.repeat)
        cells = [f"{row[c]:.1f}" if isinstance(row[c], float) else str(row[c]) for c in cols]
        print("| " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
