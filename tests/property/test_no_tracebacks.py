"""Whatever users write, the loader and the translator answer with diagnostics, never a
traceback: random documents built from each kind's real field names and random values."""

from __future__ import annotations

from typing import Any

import yaml
from google.protobuf import descriptor as _d
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshpilot.model.loader import ConfigLoader
from meshpilot.model.objects import KINDS
from meshpilot.model.proxy import parse_proxy
from meshpilot.translator import translate_store

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["*", "v1", "default", "1s", "HTTP", "TLS", "SIMPLE", "10.0.0.1", "127.0.0.1:9000", "./*", "(a"]),
)


def value_for(desc: Any, depth: int) -> st.SearchStrategy[Any]:
    """Plausible-shaped values for a message: its own field names, random contents."""
    if depth > 3 or desc is None:
        return scalars
    fields = {f.json_name: f for f in desc.fields}
    if not fields:
        return scalars

    def field_value(f: Any) -> st.SearchStrategy[Any]:
        inner = value_for(f.message_type, depth + 1) if f.type == _d.FieldDescriptor.TYPE_MESSAGE else scalars
        if f.is_repeated:
            return st.one_of(st.lists(inner, max_size=3), inner)
        return st.one_of(inner, scalars)

    keys = st.sampled_from([*sorted(fields), "bogus"])
    return st.one_of(
        scalars,
        st.lists(scalars, max_size=2),
        keys.flatmap(lambda k: st.dictionaries(st.just(k), field_value(fields[k]) if k in fields else scalars)),
        st.dictionaries(keys, scalars, max_size=4),
    )


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(sorted(KINDS)))
    spec = draw(value_for(KINDS[kind].message.DESCRIPTOR, 0))
    doc: dict[str, Any] = {
        "apiVersion": KINDS[kind].api_versions[0],
        "kind": kind,
        "metadata": draw(st.one_of(st.just({"name": "x", "namespace": "default"}), value_for(None, 9))),
    }
    if kind == "Secret":
        if isinstance(spec, dict):
            doc.update(spec)
    else:
        doc["spec"] = spec
    return doc


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(documents(), min_size=1, max_size=6))
def test_random_documents_never_raise(docs: list[dict[str, Any]]) -> None:
    text = "---\n".join(yaml.safe_dump(d) for d in docs)
    result = ConfigLoader().load({"fuzz.yaml": text})
    for d in result.rejected:
        assert str(d)  # every rejection renders as a message
    for node, labels in (
        ("router~10.0.0.1~gw-1.istio-system~istio-system.svc.cluster.local", {"istio": "ingressgateway"}),
        ("sidecar~127.0.0.11~app-1.default~default.svc.cluster.local", {"app": "x"}),
    ):
        translate_store(result.store, parse_proxy(node, {"LABELS": labels}))


GOLDEN = sorted((__import__("pathlib").Path(__file__).resolve().parents[1] / "golden" / "cases").glob("*/input.yaml"))


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(GOLDEN), st.data())
def test_mutated_real_configs_never_raise(path: Any, data: st.DataObject) -> None:
    """One value anywhere in a real config replaced by something else: mostly still valid, so
    this reaches the translator with configs a human might really write by mistake."""
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    for _ in range(data.draw(st.integers(1, 3))):
        doc = data.draw(st.sampled_from(docs))
        target = data.draw(st.sampled_from(_paths(doc)[1:] or [()]))
        if not target:
            continue
        parent = doc
        for key in target[:-1]:
            parent = parent[key]
        parent[target[-1]] = data.draw(
            st.one_of(scalars, st.lists(scalars, max_size=2), st.dictionaries(st.text(max_size=5), scalars, max_size=2))
        )
    result = ConfigLoader().load({"m.yaml": "---\n".join(yaml.safe_dump(d) for d in docs)})
    proxy_doc = yaml.safe_load((path.parent / "proxy.yaml").read_text())
    proxy = parse_proxy(
        proxy_doc["node_id"], {"LABELS": proxy_doc.get("labels") or {}, "NAMESPACE": proxy_doc.get("namespace", "")}
    )
    translate_store(result.store, proxy)
