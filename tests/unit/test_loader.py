"""Behaviour of ConfigLoader across documents, files and successive loads."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from meshpilot.model.loader import ConfigLoader, LoadResult
from meshpilot.model.objects import ConfigKey, Source


def dr(name: str, host: str, *, namespace: str | None = None, api_version: str = "networking.istio.io/v1") -> str:
    ns = f"\n  namespace: {namespace}" if namespace is not None else ""
    return f"apiVersion: {api_version}\nkind: DestinationRule\nmetadata:\n  name: {name}{ns}\nspec:\n  host: {host}\n"


def vs(name: str, weight: str = "100") -> str:
    return textwrap.dedent(f"""\
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata:
          name: {name}
        spec:
          hosts: [{name}]
          http:
          - route:
            - destination: {{host: {name}}}
              weight: {weight}
        """)


def docs(*texts: str) -> str:
    return "---\n".join(texts)


def key(kind: str, name: str, namespace: str = "default") -> ConfigKey:
    return ConfigKey(kind, namespace, name)


def spec_of(result: LoadResult, k: ConfigKey) -> Any:
    obj = result.store.get(k)
    assert obj is not None, f"{k} is not in the store"
    return obj.spec


def host_of(result: LoadResult, k: ConfigKey) -> str:
    host: str = spec_of(result, k).host
    return host


NOT_YAML = "apiVersion: [networking.istio.io/v1\nkind: DestinationRule\n"


def test_bad_object_is_rejected_alone() -> None:
    text = docs(dr("ratings", "ratings"), vs("reviews", weight="fifty"), dr("details", "details"))
    result = ConfigLoader().load({"routes.yaml": text, "other.yaml": vs("productpage")})
    assert set(result.store.objects) == {
        key("DestinationRule", "ratings"),
        key("DestinationRule", "details"),
        key("VirtualService", "productpage"),
    }
    assert [(d.where, d.obj) for d in result.rejected] == [("routes.yaml doc 2", "VirtualService default/reviews")]
    assert result.kept == ()


def test_last_good_version_keeps_serving_after_it_becomes_invalid() -> None:
    loader = ConfigLoader()
    k = key("VirtualService", "reviews")
    first = loader.load({"routes.yaml": vs("reviews", weight="100")})
    good = first.store.get(k)
    assert good is not None and first.kept == ()

    broken = loader.load({"routes.yaml": vs("reviews", weight="fifty")})
    assert broken.store.get(k) is good
    assert spec_of(broken, k).http[0].route[0].weight == 100
    assert broken.kept == (k,)
    assert len(broken.rejected) == 1
    assert broken.store.revision == first.store.revision

    still_broken = loader.load({"routes.yaml": vs("reviews", weight="-5")})
    assert still_broken.store.get(k) is good
    assert still_broken.kept == (k,)

    fixed = loader.load({"routes.yaml": vs("reviews", weight="90")})
    assert spec_of(fixed, k).http[0].route[0].weight == 90
    assert fixed.kept == ()
    assert fixed.rejected == ()


def test_object_that_was_never_valid_is_not_served() -> None:
    loader = ConfigLoader()
    result = loader.load({"routes.yaml": vs("reviews", weight="fifty")})
    assert len(result.store) == 0
    assert result.kept == ()
    assert len(result.rejected) == 1


def test_kept_object_is_bound_to_its_key_not_to_the_loader_instance() -> None:
    loader = ConfigLoader()
    loader.load({"routes.yaml": vs("reviews")})
    fresh = ConfigLoader().load({"routes.yaml": vs("reviews", weight="fifty")})
    assert len(fresh.store) == 0 and fresh.kept == ()


def test_non_yaml_file_keeps_its_previous_objects_and_spares_other_files() -> None:
    loader = ConfigLoader()
    before = loader.load(
        {
            "a.yaml": docs(dr("ratings", "ratings"), vs("reviews")),
            "b.yaml": dr("details", "details"),
            "c.yaml": dr("extra", "extra"),
        }
    )
    assert len(before.store) == 4

    after = loader.load(
        {
            "a.yaml": NOT_YAML,  # sorts first: must not stop the files after it
            "b.yaml": dr("details", "details-v2"),
            "c.yaml": dr("extra", "extra"),
        }
    )
    assert [str(d) for d in after.rejected] == [
        "a.yaml: not valid YAML at line 2, column 5: expected ',' or ']', but got ':'"
    ]
    assert sorted(after.kept) == [key("DestinationRule", "ratings"), key("VirtualService", "reviews")]
    for k in after.kept:
        assert after.store.get(k) is before.store.get(k)
    assert host_of(after, key("DestinationRule", "details")) == "details-v2"
    assert host_of(after, key("DestinationRule", "extra")) == "extra"
    assert len(after.store) == 4

    # The file is fixed without the VirtualService: only what it now holds is served.
    fixed = loader.load({"a.yaml": dr("ratings", "ratings-v2"), "b.yaml": dr("details", "details-v2")})
    assert fixed.rejected == () and fixed.kept == ()
    assert set(fixed.store.objects) == {key("DestinationRule", "ratings"), key("DestinationRule", "details")}
    assert host_of(fixed, key("DestinationRule", "ratings")) == "ratings-v2"


def test_non_yaml_file_that_never_loaded_contributes_nothing() -> None:
    result = ConfigLoader().load({"a.yaml": NOT_YAML, "b.yaml": dr("details", "details")})
    assert set(result.store.objects) == {key("DestinationRule", "details")}
    assert result.kept == ()


def test_removing_an_object_removes_it_from_the_store() -> None:
    loader = ConfigLoader()
    loader.load({"a.yaml": docs(dr("ratings", "ratings"), dr("details", "details")), "b.yaml": vs("reviews")})

    result = loader.load({"a.yaml": dr("ratings", "ratings")})
    assert set(result.store.objects) == {key("DestinationRule", "ratings")}
    assert result.rejected == () and result.kept == ()


def test_removing_an_object_that_serves_its_last_good_version_removes_it() -> None:
    loader = ConfigLoader()
    loader.load({"a.yaml": vs("reviews")})
    kept = loader.load({"a.yaml": vs("reviews", weight="fifty")})
    assert kept.kept == (key("VirtualService", "reviews"),)

    gone = loader.load({"a.yaml": dr("ratings", "ratings")})
    assert set(gone.store.objects) == {key("DestinationRule", "ratings")}
    assert gone.kept == ()


def test_removed_object_coming_back_broken_is_not_resurrected() -> None:
    loader = ConfigLoader()
    loader.load({"a.yaml": vs("reviews")})
    loader.load({"a.yaml": dr("ratings", "ratings")})

    back_broken = loader.load({"a.yaml": docs(dr("ratings", "ratings"), vs("reviews", weight="fifty"))})
    assert set(back_broken.store.objects) == {key("DestinationRule", "ratings")}
    assert back_broken.kept == ()
    assert len(back_broken.rejected) == 1


def test_unknown_non_istio_kinds_are_ignored_with_a_warning() -> None:
    deployment = textwrap.dedent("""\
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: reviews}
        spec: {replicas: 2, template: {}}
        """)
    configmap = "apiVersion: v1\nkind: ConfigMap\ndata: {a: b}\n"
    # Same kind names as meshpilot's, but in other API groups: not ours either.
    gateway_api = textwrap.dedent("""\
        apiVersion: gateway.networking.k8s.io/v1
        kind: Gateway
        metadata: {name: web}
        spec: {gatewayClassName: istio, listeners: []}
        """)
    knative = textwrap.dedent("""\
        apiVersion: serving.knative.dev/v1
        kind: Service
        metadata: {name: hello}
        spec: {template: {}}
        """)
    authz = "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: deny}\nspec: {}\n"
    text = docs(deployment, configmap, dr("reviews", "reviews"), gateway_api, knative, authz)

    result = ConfigLoader().load({"all.yaml": text})

    assert result.rejected == ()
    assert set(result.store.objects) == {key("DestinationRule", "reviews")}
    assert [str(w) for w in result.warnings] == [
        "all.yaml doc 1: apps/v1 Deployment is not a kind meshpilot reads; ignored",
        "all.yaml doc 2: v1 ConfigMap is not a kind meshpilot reads; ignored",
        "all.yaml doc 4: gateway.networking.k8s.io/v1 Gateway is not a kind meshpilot reads; ignored",
        "all.yaml doc 5: serving.knative.dev/v1 Service is not a kind meshpilot reads; ignored",
        "all.yaml doc 6: security.istio.io/v1 AuthorizationPolicy is not a kind meshpilot reads; ignored",
    ]


@pytest.mark.parametrize("version", ["v1", "v1beta1", "v1alpha3"])
def test_istio_api_versions_are_accepted(version: str) -> None:
    api_version = f"networking.istio.io/{version}"
    text = docs(
        dr("reviews", "reviews", api_version=api_version),
        vs("reviews").replace("networking.istio.io/v1", api_version),
    )
    result = ConfigLoader().load({"routes.yaml": text})
    assert result.rejected == () and result.warnings == ()
    assert set(result.store.objects) == {key("DestinationRule", "reviews"), key("VirtualService", "reviews")}


def test_api_version_does_not_change_the_revision() -> None:
    revisions = {
        ConfigLoader().load({"a.yaml": dr("reviews", "reviews", api_version=f"networking.istio.io/{v}")}).store.revision
        for v in ("v1", "v1beta1", "v1alpha3")
    }
    assert len(revisions) == 1


def test_namespace_defaults_to_default() -> None:
    text = docs(dr("reviews", "reviews"), dr("reviews", "reviews.prod", namespace="prod"))
    result = ConfigLoader().load({"routes.yaml": text})
    assert result.rejected == ()
    assert host_of(result, ConfigKey("DestinationRule", "default", "reviews")) == "reviews"
    assert host_of(result, ConfigKey("DestinationRule", "prod", "reviews")) == "reviews.prod"


def test_server_set_metadata_fields_are_accepted() -> None:
    exported = textwrap.dedent("""\
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata:
          name: reviews
          namespace: default
          uid: 6b0c2d3e-0a8f-4f5e-9a57-2f8e6f1c2a11
          resourceVersion: "123456"
          generation: 3
          creationTimestamp: 2024-05-01T10:00:00Z
          managedFields:
          - {manager: kubectl, operation: Update}
        spec:
          host: reviews
        status: {}
        """)
    result = ConfigLoader().load({"routes.yaml": exported})
    assert result.rejected == () and result.warnings == ()
    assert host_of(result, key("DestinationRule", "reviews")) == "reviews"
    # Server-set fields are not content: the revision equals that of the plain object.
    assert result.store.revision == ConfigLoader().load({"routes.yaml": dr("reviews", "reviews")}).store.revision


def test_yaml_1_1_booleans_stay_strings() -> None:
    text = textwrap.dedent("""\
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata:
          name: reviews
          labels: {feature: on, legacy: yes, canary: off, beta: no, sidecar: y}
        spec:
          host: reviews
          subsets:
          - name: v1
            labels: {debug: on}
        """)
    result = ConfigLoader().load({"routes.yaml": text})
    assert result.rejected == ()
    obj = result.store.get(key("DestinationRule", "reviews"))
    assert obj is not None
    assert obj.labels == {"feature": "on", "legacy": "yes", "canary": "off", "beta": "no", "sidecar": "y"}
    assert dict(spec_of(result, obj.key).subsets[0].labels) == {"debug": "on"}


def test_yaml_1_2_booleans_are_booleans() -> None:
    def match_flag(value: str) -> str:
        return vs("reviews").replace("  - route:", f"  - match:\n    - ignoreUriCase: {value}\n    route:")

    ok = ConfigLoader().load({"routes.yaml": match_flag("true")})
    assert ok.rejected == ()
    assert spec_of(ok, key("VirtualService", "reviews")).http[0].match[0].ignore_uri_case is True

    bad = ConfigLoader().load({"routes.yaml": match_flag("yes")})
    assert [str(d) for d in bad.rejected] == [
        "routes.yaml doc 1 VirtualService default/reviews: spec.http[0].match[0].ignoreUriCase: "
        'expected boolean, got string "yes"'
    ]


def test_revision_is_stable_for_same_content_and_changes_with_content() -> None:
    files = {"a.yaml": docs(dr("ratings", "ratings"), vs("reviews")), "b.yaml": dr("details", "details")}
    loader = ConfigLoader()
    first = loader.load(files)
    again = loader.load(dict(files))
    assert again.store.revision == first.store.revision
    assert ConfigLoader().load(files).store.revision == first.store.revision

    changed_spec = loader.load({**files, "b.yaml": dr("details", "details-v2")})
    assert changed_spec.store.revision != first.store.revision

    labelled = dr("details", "details").replace("  name: details\n", "  name: details\n  labels: {team: a}\n")
    changed_labels = loader.load({**files, "b.yaml": labelled})
    assert changed_labels.store.revision not in (first.store.revision, changed_spec.store.revision)

    removed = loader.load({"a.yaml": files["a.yaml"]})
    assert removed.store.revision not in (first.store.revision, changed_spec.store.revision)

    back = loader.load(files)
    assert back.store.revision == first.store.revision


def test_results_are_independent_of_file_order() -> None:
    files = {
        "b.yaml": docs(dr("reviews", "reviews-from-b"), vs("details", weight="fifty")),
        "a.yaml": docs(dr("reviews", "reviews-from-a"), dr("ratings", "ratings")),
        "c.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n",
    }
    forward = ConfigLoader().load(files)
    backward = ConfigLoader().load(dict(reversed(list(files.items()))))

    for result in (forward, backward):
        # The first definition by file path wins, whatever order the files came in.
        winner = result.store.get(key("DestinationRule", "reviews"))
        assert winner is not None and winner.source == Source("a.yaml", 1)
        assert host_of(result, winner.key) == "reviews-from-a"
        assert [str(d) for d in result.rejected] == [
            "b.yaml doc 2 VirtualService default/details: spec.http[0].route[0].weight: "
            'expected integer, got string "fifty"',
        ]
        assert [str(d) for d in result.conflicts] == [
            "b.yaml doc 1 DestinationRule default/reviews: metadata.name: DestinationRule default/reviews "
            "is defined twice; the definition in a.yaml doc 1 wins (first by file path, then document), "
            "this one is ignored"
        ]
        assert result.conflicts[0].conflict == (
            "DestinationRule default/reviews (a.yaml doc 1)",
            "DestinationRule default/reviews (b.yaml doc 1)",
        )
    assert forward.rejected == backward.rejected
    assert forward.conflicts == backward.conflicts
    assert forward.warnings == backward.warnings
    assert list(forward.store.objects) == list(backward.store.objects)
    assert forward.store.revision == backward.store.revision


def test_apiversion_typo_keeps_the_last_good_version() -> None:
    from meshpilot.model.loader import ConfigLoader

    good = (
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: r}\n"
        "spec: {host: r, subsets: [{name: v1, labels: {version: v1}}]}\n"
    )
    loader = ConfigLoader()
    first = loader.load({"a.yaml": good})
    second = loader.load({"a.yaml": good.replace("networking.istio.io/v1", "networking.istio.io/v9")})
    (key,) = first.store.objects
    assert second.kept == (key,)
    assert second.store.get(key) is first.store.get(key)
    assert [str(d) for d in second.rejected] == [
        "a.yaml doc 1 DestinationRule default/r: apiVersion: unsupported apiVersion 'networking.istio.io/v9' "
        "for DestinationRule; expected one of networking.istio.io/v1, networking.istio.io/v1beta1, "
        "networking.istio.io/v1alpha3"
    ]


def test_file_that_is_not_utf8_is_one_error_and_spares_other_files() -> None:
    from meshpilot.model.loader import ConfigLoader

    good = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: r}\nspec: {host: r}\n"
    result = ConfigLoader().load({"bad.yaml": b"spec: {host: \xff\xfe}\n", "good.yaml": good.encode()})
    assert [str(d) for d in result.rejected] == ["bad.yaml: not UTF-8 text: byte 0xff at offset 13"]
    assert len(result.store) == 1
