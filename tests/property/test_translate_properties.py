"""Translator properties over generated meshes: deterministic, order-independent, consistent,
unique resource names, no address bound twice."""

from __future__ import annotations

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from meshpilot.model.loader import ConfigLoader
from meshpilot.model.proxy import Proxy, parse_proxy
from meshpilot.translator import Translation, translate_store
from meshpilot.xds.cache import snapshot_of
from meshpilot.xds.snapshot import inconsistencies

SERVICES = ["a", "b", "c"]
VERSIONS = ["v1", "v2", "v3"]
GW = parse_proxy(
    "router~10.0.0.1~gw-1.istio-system~istio-system.svc.cluster.local",
    {"LABELS": {"istio": "ingressgateway"}},
)


def meta(name: str, ns: str = "default") -> dict[str, str]:
    return {"name": name, "namespace": ns}


@st.composite
def meshes(draw: st.DrawFn) -> list[dict[str, object]]:
    docs: list[dict[str, object]] = []
    ports = draw(st.lists(st.sampled_from([8080, 8081, 9090]), min_size=1, max_size=3, unique=True))
    for i, port in enumerate(ports):
        docs.append(
            {
                "apiVersion": "networking.istio.io/v1",
                "kind": "Gateway",
                "metadata": meta(f"gw{i}", "istio-system"),
                "spec": {
                    "selector": {"istio": "ingressgateway"},
                    "servers": [{"port": {"number": port, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]}],
                },
            }
        )
    for svc in draw(st.lists(st.sampled_from(SERVICES), min_size=1, unique=True)):
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": meta(svc),
                "spec": {"selector": {"app": svc}, "ports": [{"name": "http", "port": 80}]},
            }
        )
        docs.append(
            {
                "apiVersion": "networking.istio.io/v1",
                "kind": "DestinationRule",
                "metadata": meta(svc),
                "spec": {"host": svc, "subsets": [{"name": v, "labels": {"version": v}} for v in VERSIONS]},
            }
        )
        for j, v in enumerate(draw(st.lists(st.sampled_from(VERSIONS), unique=True))):
            docs.append(
                {
                    "apiVersion": "networking.istio.io/v1",
                    "kind": "WorkloadEntry",
                    "metadata": meta(f"{svc}-{v}"),
                    "spec": {
                        "address": f"10.0.{j}.{SERVICES.index(svc) + 1}",
                        "labels": {"app": svc, "version": v},
                    },
                }
            )
        routes = []
        for k in range(draw(st.integers(1, 3))):
            subset = draw(st.sampled_from(VERSIONS))
            dest: dict[str, object] = {"destination": {"host": svc, "subset": subset}}
            if draw(st.booleans()):
                dest["fallback"] = {"target": {"host": svc, "subset": "v1" if subset != "v1" else "v2"}}
            match = [{"headers": {"x-lane": {"exact": f"l{k}"}}}] if k else []
            routes.append({"name": f"r{k}", "match": match, "route": [dest]} if match else {"route": [dest]})
        host = draw(st.sampled_from(["*", f"{svc}.example.com"]))
        docs.append(
            {
                "apiVersion": "networking.istio.io/v1",
                "kind": "VirtualService",
                "metadata": meta(svc),
                "spec": {
                    "hosts": [host],
                    "gateways": [f"istio-system/gw{g}" for g in range(len(ports))],
                    "http": routes,
                },
            }
        )
    return docs


def render(t: Translation) -> list[bytes]:
    msgs = [*t.listeners, *t.routes, *t.clusters, *t.endpoints]
    # Diagnostics name the file and document they come from, which moves when input is shuffled.
    diags = sorted(f"{d.severity} {d.obj} {d.path} {d.message}".encode() for d in t.diagnostics)
    return [m.SerializeToString(deterministic=True) for m in msgs] + diags


SIDECAR = parse_proxy("sidecar~10.0.9.9~client-1.default~default.svc.cluster.local", {"LABELS": {"app": "client"}})
EXPLICIT_SIDECAR = {
    "apiVersion": "networking.istio.io/v1",
    "kind": "Sidecar",
    "metadata": {"name": "client", "namespace": "default"},
    "spec": {
        "workloadSelector": {"labels": {"app": "client"}},
        "ingress": [{"port": {"number": 80, "protocol": "HTTP", "name": "http"}, "captureMode": "NONE"}],
        "egress": [
            {"port": {"number": 80, "protocol": "HTTP", "name": "http"}, "captureMode": "NONE", "hosts": ["./*"]},
            {"hosts": ["*/*"]},
        ],
    },
}


def translate_docs(docs: list[dict[str, object]], files: int = 1, proxy: Proxy = GW) -> Translation:
    chunks: dict[str, str] = {}
    for i, d in enumerate(docs):
        name = f"f{i % files}.yaml"
        chunks[name] = chunks.get(name, "") + "---\n" + yaml.safe_dump(d)
    result = ConfigLoader().load(chunks)
    assert result.rejected == (), [str(r) for r in result.rejected]
    return translate_store(result.store, proxy)


@settings(max_examples=60, deadline=None)
@given(meshes(), st.randoms(use_true_random=False), st.integers(1, 4), st.booleans())
def test_translation_is_deterministic_and_independent_of_input_order(
    docs: list[dict[str, object]], rnd: object, files: int, sidecar: bool
) -> None:
    proxy = SIDECAR if sidecar else GW
    base = translate_docs(docs, proxy=proxy)
    assert render(translate_docs(docs, proxy=proxy)) == render(base)
    shuffled = list(docs)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert render(translate_docs(shuffled, files, proxy=proxy)) == render(base)


@settings(max_examples=60, deadline=None)
@given(meshes(), st.sampled_from(["gateway", "sidecar", "explicit-sidecar"]))
def test_snapshots_are_consistent_names_unique_addresses_bound_once(docs: list[dict[str, object]], kind: str) -> None:
    if kind == "explicit-sidecar":
        docs = [*docs, EXPLICIT_SIDECAR]
    t = translate_docs(docs, proxy=GW if kind == "gateway" else SIDECAR)
    assert inconsistencies(snapshot_of(t)) == []
    for kind in (t.listeners, t.routes, t.clusters):
        names = [r.name for r in kind]
        assert len(names) == len(set(names)), names
    cla_names = [e.cluster_name for e in t.endpoints]
    assert len(cla_names) == len(set(cla_names))
    # No two listeners that really bind share an address and port, or a port with a wildcard.
    bound = [
        (x.address.socket_address.address, x.address.socket_address.port_value)
        for x in t.listeners
        if not (x.HasField("bind_to_port") and not x.bind_to_port.value)
    ]
    assert len(bound) == len(set(bound)), bound
    for addr, port in bound:
        if addr == "0.0.0.0":
            assert [a for a, p in bound if p == port] == [addr], bound
    # Every cluster a route sends to exists.
    clusters = {c.name for c in t.clusters}
    for rc in t.routes:
        for vh in rc.virtual_hosts:
            for r in vh.routes:
                targets = [r.route.cluster] if r.route.cluster else [w.name for w in r.route.weighted_clusters.clusters]
                assert set(targets) <= clusters, targets


@settings(max_examples=40, deadline=None)
@given(meshes(), meshes(), st.booleans())
def test_cluster_memo_never_changes_the_result(
    first: list[dict[str, object]], second: list[dict[str, object]], sidecar: bool
) -> None:
    """Translating config A then B with one shared memo gives exactly what B alone gives."""
    from meshpilot.translator import build_context, translate
    from meshpilot.translator.clusters import ClusterMemo

    proxy = SIDECAR if sidecar else GW
    memo = ClusterMemo()

    def store(docs: list[dict[str, object]]) -> object:
        return ConfigLoader().load({"m.yaml": "---\n".join(yaml.safe_dump(d) for d in docs)}).store

    translate(build_context(store(first)), proxy, memo)  # type: ignore[arg-type]
    with_memo = translate(build_context(store(second)), proxy, memo)  # type: ignore[arg-type]
    fresh = translate(build_context(store(second)), proxy)  # type: ignore[arg-type]
    assert render(with_memo) == render(fresh)
