"""Sidecar resource: exact validation messages, and which Sidecar applies to a proxy."""

from __future__ import annotations

import textwrap

import pytest

from meshpilot.model.loader import ConfigLoader
from meshpilot.model.proxy import parse_proxy
from meshpilot.translator import build_context
from meshpilot.translator.scope import build_scope, select_sidecar

SC = "sc.yaml doc 1 Sidecar default/s"


def sidecar(spec: str) -> str:
    head = "apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: s}\nspec:\n"
    return head + textwrap.indent(textwrap.dedent(spec), "  ")


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            "egress: [{hosts: [reviews]}]",
            [f"{SC}: spec.egress[0].hosts[0]: expected namespace/host (e.g. ./*, */*, istio-system/*), got 'reviews'"],
        ),
        ("egress: [{hosts: [Bad_NS/*]}]", [f"{SC}: spec.egress[0].hosts[0]: invalid namespace 'Bad_NS' in 'Bad_NS/*'"]),
        ("egress: [{port: {number: 80}}]", [f"{SC}: spec.egress[0].hosts: at least one host is required (e.g. ./*)"]),
        (
            "egress: [{hosts: ['*/*']}, {port: {number: 80}, hosts: ['./*']}]",
            [f"{SC}: spec.egress[0].port: only the last egress listener may omit the port (catch-all)"],
        ),
        (
            "egress: [{port: {number: 80}, bind: localhost, hosts: ['./*']}]",
            [f"{SC}: spec.egress[0].bind: expected an IP address or unix:// path, got 'localhost'"],
        ),
        (
            "ingress: [{port: {number: 80}, defaultEndpoint: 'localhost:8080'}]",
            [f"{SC}: spec.ingress[0].defaultEndpoint: expected IP:PORT or unix:///path, got 'localhost:8080'"],
        ),
        (
            "ingress: [{port: {number: 80}}, {port: {number: 80}}]",
            [f"{SC}: spec.ingress[1].port.number: port 80 is already used by spec.ingress[0]"],
        ),
        (
            "ingress: [{port: {number: 80}, captureMode: OFF}]",
            [f'{SC}: spec.ingress[0].captureMode: expected one of DEFAULT, IPTABLES, NONE, got string "OFF"'],
        ),
    ],
)
def test_sidecar_validation_messages(spec: str, expected: list[str]) -> None:
    result = ConfigLoader().load({"sc.yaml": sidecar(spec)})
    assert [str(d) for d in result.rejected] == expected


WORKLOAD_SIDECAR = """
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: for-reviews, namespace: default}
spec:
  workloadSelector: {labels: {app: reviews}}
  egress: [{hosts: ["./*"]}]
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: namespace-default, namespace: default}
spec:
  egress: [{hosts: ["*/*"]}]
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: root, namespace: istio-system}
spec:
  egress: [{hosts: ["istio-system/*"]}]
---
apiVersion: v1
kind: Service
metadata: {name: a, namespace: default}
spec: {ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: b, namespace: other}
spec: {ports: [{port: 80}]}
"""


@pytest.mark.parametrize(
    ("ns", "labels", "sidecar", "hosts"),
    [
        ("default", {"app": "reviews"}, "for-reviews", ["a.default.svc.cluster.local"]),
        (
            "default",
            {"app": "ratings"},
            "namespace-default",
            ["a.default.svc.cluster.local", "b.other.svc.cluster.local"],
        ),
        ("other", {"app": "x"}, "root", []),
    ],
)
def test_which_sidecar_applies_and_what_it_sees(
    ns: str, labels: dict[str, str], sidecar: str, hosts: list[str]
) -> None:
    ctx = build_context(ConfigLoader().load({"m.yaml": WORKLOAD_SIDECAR}).store)
    proxy = parse_proxy(f"sidecar~10.0.0.1~p-1.{ns}~{ns}.svc.cluster.local", {"LABELS": labels})
    chosen, _ = select_sidecar(ctx, proxy)
    assert chosen is not None and chosen.name == sidecar
    assert [s.hostname for s in build_scope(ctx, proxy).services] == hosts
