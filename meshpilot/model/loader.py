"""Turn files of YAML documents into a ConfigStore, rejecting bad objects one by one.

Rules (DESIGN §4):
- each document is decoded strictly and validated; a bad one is rejected alone;
- a rejected object keeps its last good version (if it ever had one);
- a file that is not YAML at all is one error; the objects it held before keep serving;
- the same object defined twice: the first (by file path, then document) wins.
This module is pure: the caller passes file contents and gets back the new state.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Mapping
from typing import Any

import yaml

from meshpilot.model.decode import FieldError, decode, describe
from meshpilot.model.diagnostics import Diagnostic, Severity
from meshpilot.model.objects import ISTIO_GROUP, KINDS, ConfigKey, ConfigObject, Source
from meshpilot.model.store import ConfigStore
from meshpilot.model.validate import check_labels, check_name
from meshpilot.model.validators import VALIDATORS

_METADATA_FIELDS = {"name", "namespace", "labels", "annotations"}
# Set by the API server; harmless in files exported with `kubectl get -o yaml`.
_METADATA_IGNORED = {
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "selfLink",
    "ownerReferences",
    "finalizers",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generateName",
}
DEFAULT_NAMESPACE = "default"
TOP_LEVEL_KINDS = {"Secret"}


@dataclasses.dataclass(frozen=True)
class LoadResult:
    store: ConfigStore
    rejected: tuple[Diagnostic, ...]  # config.rejected: errors that cost an object
    warnings: tuple[Diagnostic, ...]  # ignored documents and the like
    kept: tuple[ConfigKey, ...]  # objects serving a last good version despite an error
    conflicts: tuple[Diagnostic, ...] = ()  # config.conflict: e.g. one object defined twice


def _yaml12_booleans(loader: type[Any]) -> type[Any]:
    """Only true/false are booleans (YAML 1.2, as Kubernetes): `on`, `yes` stay strings."""
    loader.yaml_implicit_resolvers = {
        k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
        for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    loader.add_implicit_resolver(
        "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
    )
    return loader


@_yaml12_booleans
class _FastLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """libyaml's parser: several times faster on large configs."""


@_yaml12_booleans
class _PyLoader(yaml.SafeLoader):
    """The pure-Python parser, whose error messages say what it found ("but got ':'")."""


def parse_documents(text: str) -> list[Any]:
    """All YAML documents of a file; raises yaml.YAMLError on syntax errors."""
    try:
        return list(yaml.load_all(text, Loader=_FastLoader))
    except yaml.YAMLError:
        return list(yaml.load_all(text, Loader=_PyLoader))  # raises the clearer error


def _digest(api_version: str, meta: Mapping[str, Any], spec_bytes: bytes) -> str:
    h = hashlib.sha256(spec_bytes)
    h.update(repr(sorted((meta.get("labels") or {}).items())).encode())
    h.update(repr(sorted((meta.get("annotations") or {}).items())).encode())
    return h.hexdigest()[:16]


@dataclasses.dataclass
class _DocResult:
    key: ConfigKey | None
    obj: ConfigObject | None
    errors: list[FieldError]
    ignored: str = ""


def _key_guess(kind: str, meta: Any) -> ConfigKey | None:
    """The object a broken document means, when it can be told, so its last good version stays."""
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
        return None
    namespace = meta.get("namespace") or DEFAULT_NAMESPACE
    return ConfigKey(kind, namespace, meta["name"]) if isinstance(namespace, str) else None


def decode_document(doc: Any, source: Source) -> _DocResult:
    """Decode one document into a ConfigObject, or say why not."""
    if not isinstance(doc, dict):
        return _DocResult(None, None, [FieldError("", f"expected a mapping, got {describe(doc)}")])
    errors: list[FieldError] = []
    api_version, kind_name = doc.get("apiVersion"), doc.get("kind")
    if not isinstance(api_version, str) or not api_version:
        errors.append(FieldError("apiVersion", "required (e.g. networking.istio.io/v1)"))
    if not isinstance(kind_name, str) or not kind_name:
        errors.append(FieldError("kind", "required (e.g. VirtualService)"))
    if errors:
        return _DocResult(None, None, errors)
    assert isinstance(api_version, str) and isinstance(kind_name, str)
    kind = KINDS.get(kind_name)
    group, slash, _ = api_version.rpartition("/")
    if kind is not None and slash and group != kind.group:
        kind = None  # the same kind name in another API group (e.g. the Gateway API's Gateway)
    if kind is None or api_version not in kind.api_versions:
        if api_version.split("/")[0] == ISTIO_GROUP and kind is None:
            known = ", ".join(k for k, v in KINDS.items() if v.group == ISTIO_GROUP)
            return _DocResult(
                None,
                None,
                [FieldError("kind", f"unsupported kind {kind_name!r}; expected one of {known}")],
            )
        if kind is not None:
            return _DocResult(
                _key_guess(kind.name, doc.get("metadata")),
                None,
                [
                    FieldError(
                        "apiVersion",
                        f"unsupported apiVersion {api_version!r} for {kind_name}; expected one of "
                        + ", ".join(kind.api_versions),
                    )
                ],
            )
        return _DocResult(
            None,
            None,
            [],
            ignored=f"{api_version} {kind_name} is not a kind meshpilot reads; ignored",
        )
    meta = doc.get("metadata")
    if not isinstance(meta, dict):
        return _DocResult(
            None,
            None,
            [FieldError("metadata", f"expected a mapping with name, got {describe(meta)}")],
        )
    name, namespace = meta.get("name"), meta.get("namespace") or DEFAULT_NAMESPACE
    if not isinstance(name, str):
        return _DocResult(None, None, [FieldError("metadata.name", f"expected string, got {describe(name)}")])
    if not isinstance(namespace, str):
        return _DocResult(
            None,
            None,
            [FieldError("metadata.namespace", f"expected string, got {describe(namespace)}")],
        )
    key = ConfigKey(kind.name, namespace, name)
    check_name(name, "metadata.name", errors)
    check_name(namespace, "metadata.namespace", errors)
    for field in meta:
        if field not in _METADATA_FIELDS and field not in _METADATA_IGNORED:
            errors.append(FieldError(f"metadata.{field}", "unknown field"))
    labels, annotations = meta.get("labels") or {}, meta.get("annotations") or {}
    for field, value in (("labels", labels), ("annotations", annotations)):
        if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            errors.append(FieldError(f"metadata.{field}", "expected a mapping of strings to strings"))
    if isinstance(labels, dict):
        check_labels(((str(k), str(v)) for k, v in labels.items()), "metadata.labels", errors)
    spec_data: Any
    if kind.name in TOP_LEVEL_KINDS:
        # Kubernetes Secrets have no spec: their fields (type, data, stringData) are top-level.
        spec_data, spec_path = {k: v for k, v in doc.items() if k not in ("apiVersion", "kind", "metadata")}, ""
    else:
        for field in doc:
            if field not in ("apiVersion", "kind", "metadata", "spec", "status"):
                errors.append(FieldError(field, "unknown field; expected apiVersion, kind, metadata, spec"))
        spec_data, spec_path = doc.get("spec"), "spec"
        if spec_data is None:
            errors.append(FieldError("spec", "required"))
            return _DocResult(key, None, errors)
    spec, spec_errors = decode(spec_data, kind.message, spec_path)
    errors.extend(spec_errors)
    if not spec_errors:
        errors.extend(VALIDATORS[kind.name](spec))
    if errors:
        return _DocResult(key, None, errors)
    obj = ConfigObject(
        key=key,
        spec=spec,
        labels=dict(labels),
        annotations=dict(annotations),
        source=source,
        digest=_digest(api_version, meta, spec.SerializeToString(deterministic=True)),
    )
    return _DocResult(key, obj, [])


def _decode_file(path: str, content: str | bytes) -> list[tuple[Source, _DocResult]] | Diagnostic:
    """Every non-empty document of a file, decoded; or one Diagnostic if it is not YAML."""
    if isinstance(content, bytes):
        try:
            content = content.decode("utf-8")
        except UnicodeDecodeError as exc:
            return Diagnostic(
                Severity.ERROR,
                "",
                "",
                f"not UTF-8 text: byte 0x{content[exc.start]:02x} at offset {exc.start}",
                path,
            )
    text = content
    try:
        docs = parse_documents(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return Diagnostic(Severity.ERROR, "", "", f"not valid YAML{where}: {problem}", where=path)
    out = []
    for index, doc in enumerate(docs, start=1):
        if doc is not None:
            source = Source(path, index)
            out.append((source, decode_document(doc, source)))
    return out


class ConfigLoader:
    """Holds the last good version of every object across loads."""

    def __init__(self) -> None:
        self._last_good: dict[ConfigKey, ConfigObject] = {}
        # Decoded documents of each file, reused while the file's text is unchanged, so an
        # edit costs work proportional to the files that changed.
        self._file_cache: dict[str, tuple[str | bytes, list[tuple[Source, _DocResult]] | Diagnostic]] = {}

    def load(self, files: Mapping[str, str | bytes]) -> LoadResult:
        """Build the next store from the full set of files (display path -> text or bytes)."""
        rejected: list[Diagnostic] = []
        warnings: list[Diagnostic] = []
        kept: list[ConfigKey] = []
        result: dict[ConfigKey, ConfigObject] = {}
        first_seen: dict[ConfigKey, Source] = {}
        conflicts: list[Diagnostic] = []

        def keep_last_good(key: ConfigKey) -> None:
            old = self._last_good.get(key)
            if old is not None and key not in result:
                result[key] = old
                kept.append(key)

        file_cache: dict[str, tuple[str | bytes, list[tuple[Source, _DocResult]] | Diagnostic]] = {}
        for path in sorted(files):
            cached = self._file_cache.get(path)
            decoded = cached[1] if cached is not None and cached[0] == files[path] else _decode_file(path, files[path])
            file_cache[path] = (files[path], decoded)
            if isinstance(decoded, Diagnostic):
                rejected.append(decoded)
                for key, old in self._last_good.items():
                    if old.source.file == path:
                        keep_last_good(key)
                continue
            for source, res in decoded:
                obj_name = str(res.key) if res.key else ""
                if res.ignored:
                    warnings.append(Diagnostic(Severity.WARNING, obj_name, "", res.ignored, str(source)))
                    continue
                if res.key is not None and res.key in first_seen:
                    first = first_seen[res.key]
                    conflicts.append(
                        Diagnostic(
                            Severity.WARNING,
                            obj_name,
                            "metadata.name",
                            f"{res.key} is defined twice; the definition in {first} wins "
                            "(first by file path, then document), this one is ignored",
                            str(source),
                            conflict=(f"{res.key} ({first})", f"{res.key} ({source})"),
                        )
                    )
                    continue
                if res.key is not None:
                    first_seen[res.key] = source
                for err in res.errors:
                    rejected.append(Diagnostic(Severity.ERROR, obj_name, err.path, err.message, str(source)))
                if res.obj is not None:
                    result[res.obj.key] = res.obj
                elif res.key is not None:
                    keep_last_good(res.key)
        self._last_good = dict(result)
        self._file_cache = file_cache
        return LoadResult(ConfigStore(result.values()), tuple(rejected), tuple(warnings), tuple(kept), tuple(conflicts))
