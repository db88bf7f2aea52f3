"""ConfigStore: an immutable, indexed view of the valid config with a content revision."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from meshpilot.model.objects import ConfigKey, ConfigObject


class ConfigStore:
    """Immutable. Built once from a set of objects; lookups are by kind and key."""

    __slots__ = ("_by_key", "_by_kind", "revision")

    def __init__(self, objects: Iterable[ConfigObject] = ()) -> None:
        by_key = {o.key: o for o in objects}
        self._by_key: Mapping[ConfigKey, ConfigObject] = MappingProxyType(dict(sorted(by_key.items())))
        by_kind: dict[str, list[ConfigObject]] = {}
        for obj in self._by_key.values():
            by_kind.setdefault(obj.kind, []).append(obj)
        self._by_kind = {k: tuple(v) for k, v in by_kind.items()}
        h = hashlib.sha256()
        for key, obj in self._by_key.items():
            h.update(f"{key}\0{obj.digest}\0".encode())
        self.revision = h.hexdigest()[:16]

    def of_kind(self, kind: str) -> tuple[ConfigObject, ...]:
        """Objects of one kind, sorted by namespace then name (deterministic order)."""
        return self._by_kind.get(kind, ())

    def get(self, key: ConfigKey) -> ConfigObject | None:
        return self._by_key.get(key)

    @property
    def objects(self) -> Mapping[ConfigKey, ConfigObject]:
        return self._by_key

    def __len__(self) -> int:
        return len(self._by_key)
