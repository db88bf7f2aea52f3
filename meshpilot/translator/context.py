"""MeshContext: everything derived from one ConfigStore that every proxy's translation shares."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from meshpilot.api.networking.v1 import destination_rule_pb2
from meshpilot.model.diagnostics import Diagnostic
from meshpilot.model.objects import ConfigObject
from meshpilot.model.registry import ServiceRegistry, build_registry, is_exported, resolve_short_name
from meshpilot.model.store import ConfigStore
from meshpilot.translator.policy import merge_policy


@dataclasses.dataclass(frozen=True)
class MeshContext:
    store: ConfigStore
    registry: ServiceRegistry
    # resolved host -> DestinationRules for it, in deterministic (namespace, name) order
    destination_rules: Mapping[str, tuple[ConfigObject, ...]]

    @property
    def diagnostics(self) -> tuple[Diagnostic, ...]:
        return self.registry.diagnostics

    # Memo of lookups, per context (the context is immutable, so are the answers).
    _memo: dict[tuple[object, ...], object] = dataclasses.field(default_factory=dict, compare=False, repr=False)

    def destination_rule(self, host: str, proxy_namespace: str) -> ConfigObject | None:
        key = ("dr", host, proxy_namespace)
        if key not in self._memo:
            self._memo[key] = self._destination_rule(host, proxy_namespace)
        return self._memo[key]  # type: ignore[return-value]

    def _destination_rule(self, host: str, proxy_namespace: str) -> ConfigObject | None:
        """Istio's lookup order: a rule in the proxy's namespace, then the service's, then any.

        Exact hosts win over wildcard hosts (`*.example.com`); the longest wildcard wins.
        """
        candidates = self.destination_rules.get(host)
        if candidates is None:
            best = ""
            for pattern in self.destination_rules:
                if pattern.startswith("*") and host.endswith(pattern[1:]) and len(pattern) > len(best):
                    best = pattern
            if not best:
                return None
            candidates = self.destination_rules[best]
        candidates = tuple(dr for dr in candidates if _exported(dr, proxy_namespace))
        if not candidates:
            return None
        svc = self.registry.get(host)
        for ns in (proxy_namespace, svc.namespace if svc else None):
            for dr in candidates:
                if dr.namespace == ns:
                    return dr
        return candidates[0]

    def virtual_services(self, proxy_namespace: str) -> tuple[ConfigObject, ...]:
        """VirtualServices exported to the proxy's namespace, in (namespace, name) order."""
        return tuple(vs for vs in self.store.of_kind("VirtualService") if _exported(vs, proxy_namespace))

    def policy(self, host: str, subset: str, port: int, proxy_namespace: str) -> destination_rule_pb2.TrafficPolicy:
        """The effective policy (memoised; callers must not mutate it)."""
        key = ("policy", host, subset, port, proxy_namespace)
        if key not in self._memo:
            self._memo[key] = self._policy(host, subset, port, proxy_namespace)
        return self._memo[key]  # type: ignore[return-value]

    def _policy(self, host: str, subset: str, port: int, proxy_namespace: str) -> destination_rule_pb2.TrafficPolicy:
        """The effective traffic policy of `outbound|port|subset|host` (Istio's merge order)."""
        dr = self.destination_rule(host, proxy_namespace)
        if dr is None:
            return destination_rule_pb2.TrafficPolicy()
        spec = dr.spec
        assert isinstance(spec, destination_rule_pb2.DestinationRule)
        top = spec.traffic_policy if spec.HasField("traffic_policy") else None
        sub = next((s for s in spec.subsets if s.name == subset), None) if subset else None
        sub_policy = sub.traffic_policy if sub is not None and sub.HasField("traffic_policy") else None
        return merge_policy(top, sub_policy, port)

    def subsets(self, host: str, proxy_namespace: str) -> tuple[destination_rule_pb2.Subset, ...]:
        dr = self.destination_rule(host, proxy_namespace)
        if dr is None:
            return ()
        spec = dr.spec
        assert isinstance(spec, destination_rule_pb2.DestinationRule)
        return tuple(spec.subsets)


def _exported(obj: ConfigObject, namespace: str) -> bool:
    return is_exported(list(getattr(obj.spec, "export_to", ())), obj.namespace, namespace)


def build_context(store: ConfigStore) -> MeshContext:
    drs: dict[str, list[ConfigObject]] = {}
    for obj in store.of_kind("DestinationRule"):
        spec = obj.spec
        assert isinstance(spec, destination_rule_pb2.DestinationRule)
        drs.setdefault(resolve_short_name(spec.host, obj.namespace), []).append(obj)
    return MeshContext(
        store=store,
        registry=build_registry(store),
        destination_rules={h: tuple(v) for h, v in sorted(drs.items())},
    )
