"""Load each side of `meshpilot diff` from what the user named.

An argument is, in this order: `-` (a document on stdin); an `http(s)://` URL (an Envoy admin
address, or a meshpilot admin `/debug/config_dump` URL); a directory (Istio-style config,
translated offline); a file (a saved snapshot or a config dump, JSON or YAML).

A config directory is translated for: the proxies given with `--node-id`/`--proxies`; else the
proxies of the other side when it is an Envoy config dump (which carries node labels and
namespace); else one gateway proxy per distinct Gateway selector found in the config (of both
sides when both are directories).
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import json
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import yaml

from meshpilot.diff.documents import ENVOY_DUMP, MESHPILOT_DUMP, read_document
from meshpilot.diff.snapshots import (
    CLUSTERS,
    ENDPOINTS,
    LISTENERS,
    ROUTES,
    DiffInputError,
    ProxySnapshot,
    Side,
    resources_by_name,
)

if TYPE_CHECKING:
    from meshpilot.model.store import ConfigStore

CONFIG_DIR = "config directory"
ReadDir = Callable[[str], Mapping[str, str | bytes]]


@dataclasses.dataclass(frozen=True)
class ProxySpec:
    """A proxy to translate a config directory for (as `meshpilot translate` takes it)."""

    node_id: str
    labels: Mapping[str, str] = dataclasses.field(default_factory=dict)
    namespace: str = ""


def read_proxies_file(path: str) -> tuple[ProxySpec, ...]:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise DiffInputError(f"--proxies: cannot read {path}: {_one_line(exc)}") from None
    return parse_proxies_file(text, f"--proxies {path}")


def parse_proxies_file(text: str, where: str) -> tuple[ProxySpec, ...]:
    """`--proxies FILE`: a YAML list of `{node_id, labels, namespace}`."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DiffInputError(f"{where}: not valid YAML: {_one_line(exc)}") from None
    if not isinstance(doc, list) or not doc:
        raise DiffInputError(f"{where}: expected a non-empty list of {{node_id, labels, namespace}}")
    out = []
    for i, item in enumerate(doc):
        at = f"{where}: [{i}]"
        if not isinstance(item, Mapping):
            raise DiffInputError(f"{at}: expected a map with node_id, labels, namespace")
        unknown = sorted(set(item) - {"node_id", "labels", "namespace"})
        if unknown:
            raise DiffInputError(f"{at}: unknown field {unknown[0]!r} (expected node_id, labels, namespace)")
        node_id, labels, namespace = item.get("node_id"), item.get("labels") or {}, item.get("namespace") or ""
        if not isinstance(node_id, str) or not node_id:
            raise DiffInputError(f"{at}: node_id is required")
        if not isinstance(labels, Mapping) or not all(isinstance(v, str | int | float) for v in labels.values()):
            raise DiffInputError(f"{at}: labels must be a map of strings")
        if not isinstance(namespace, str):
            raise DiffInputError(f"{at}: namespace must be a string")
        out.append(ProxySpec(node_id, {str(k): str(v) for k, v in labels.items()}, namespace))
    return tuple(out)


def load_sides(
    old: str,
    new: str,
    *,
    read_dir: ReadDir,
    proxies: Sequence[ProxySpec] = (),
    timeout: float = 10.0,
) -> tuple[Side, Side]:
    """Both sides, loaded. Raises DiffInputError (one line) for anything the user can fix."""
    args = {"OLD": old, "NEW": new}
    if old == new == "-":
        raise DiffInputError("only one of OLD and NEW can be - (stdin)")
    sides: dict[str, Side] = {}
    stores: dict[str, tuple[ConfigStore, tuple[str, ...]]] = {}
    used_specs = False
    for label, arg in args.items():
        if _is_url(arg) or arg == "-" or not os.path.isdir(arg):
            sides[label] = _load_document_side(label, arg, proxies, timeout)
            used_specs = used_specs or (_is_url(arg) and _is_meshpilot_url(arg))
        else:
            stores[label] = _load_store(label, arg, read_dir)
    if proxies and not stores and not used_specs:
        raise DiffInputError(
            "--node-id and --proxies only apply to config directories and meshpilot /debug/config_dump URLs"
        )
    if stores:
        specs = list(proxies) or _specs_from_dumps(sides) or _gateway_specs(s for s, _ in stores.values())
        if not specs:
            dirs = " and ".join(args[label] for label in stores)
            raise DiffInputError(
                f"no Gateway in {dirs} to pick a proxy from: pass --node-id ID [--label k=v ...] or --proxies FILE"
            )
        for label, (store, warnings) in stores.items():
            sides[label] = _translate_side(label, args[label], store, warnings, specs)
    return sides["OLD"], sides["NEW"]


# --- documents: files, stdin, URLs -------------------------------------------------------------


def _is_url(arg: str) -> bool:
    return arg.startswith(("http://", "https://"))


def _is_meshpilot_url(arg: str) -> bool:
    return urllib.parse.urlsplit(arg).path.rstrip("/").endswith("/debug/config_dump")


def _load_document_side(label: str, arg: str, specs: Sequence[ProxySpec], timeout: float) -> Side:
    where = f"{label} {arg}"
    if _is_url(arg):
        docs = _fetch_documents(where, arg, specs, timeout)
    elif arg == "-":
        docs = [_parse_text(sys.stdin.read(), f"{label} (stdin)")]
    else:
        try:
            with open(arg, encoding="utf-8") as f:
                text = f.read()
        except FileNotFoundError:
            raise DiffInputError(f"{label}: {arg}: no such file, directory or URL") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise DiffInputError(f"{label}: cannot read {arg}: {_one_line(exc)}") from None
        docs = [_parse_text(text, where)]
    kinds, proxies = [], {}
    for doc in docs:
        with _no_gc():
            kind, found = read_document(doc, where)
        kinds.append(kind)
        for p in found:
            proxies[p.node_id] = p
    return Side(label, arg, kinds[0], dict(sorted(proxies.items())))


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """Parsed documents are trees, never cycles: collecting while building one only costs time
    (a 20 MiB snapshot parses three times faster without)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _parse_text(text: str, where: str) -> Any:
    if text.lstrip()[:1] in ("{", "["):
        try:
            with _no_gc():
                return json.loads(text)
        except json.JSONDecodeError as exc:
            raise DiffInputError(f"{where}: not valid JSON: {exc}") from None
    try:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        with _no_gc():
            return yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        raise DiffInputError(f"{where}: neither JSON nor YAML: {_one_line(exc)}") from None


def _fetch_documents(where: str, url: str, specs: Sequence[ProxySpec], timeout: float) -> list[Any]:
    parts = urllib.parse.urlsplit(url)
    if _is_meshpilot_url(url):
        params = urllib.parse.parse_qs(parts.query)
        nodes = params.get("node") or [s.node_id for s in specs]
        if not nodes:
            _fetch_json(where, url, timeout)  # meshpilot answers 400 listing the connected nodes
            raise DiffInputError(f"{where}: add ?node=ID (or --node-id ID)")
        urls = [urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode({"node": n}))) for n in nodes]
        return [_fetch_json(where, u, timeout) for u in urls]
    path = parts.path.rstrip("/") or "/config_dump"
    query = parts.query
    if path.endswith("/config_dump") and "include_eds" not in urllib.parse.parse_qs(query, True):
        query = f"{query}&include_eds" if query else "include_eds"
    full = urllib.parse.urlunsplit(parts._replace(path=path, query=query))
    status, body = _get(where, full, timeout)
    if status == 404 and b"/debug/config_dump?node=ID" in body:
        base = urllib.parse.urlunsplit(parts._replace(path="", query=""))
        raise DiffInputError(f"{where} is a meshpilot admin address, not Envoy's: use {base}/debug/config_dump?node=ID")
    return [_json_body(where, full, status, body)]


def _fetch_json(where: str, url: str, timeout: float) -> Any:
    return _json_body(where, url, *_get(where, url, timeout))


def _get(where: str, url: str, timeout: float) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return int(resp.status), bytes(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, bytes(err.read())
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DiffInputError(f"{where}: cannot fetch {url}: {_one_line(reason)}") from None


def _json_body(where: str, url: str, status: int, body: bytes) -> Any:
    if status != 200:
        raise DiffInputError(f"{where}: {url} answered HTTP {status}{_error_detail(body)}")
    try:
        with _no_gc():
            return json.loads(body)
    except ValueError:
        raise DiffInputError(f"{where}: {url} did not answer JSON") from None


def _error_detail(body: bytes) -> str:
    try:
        doc = json.loads(body)
    except ValueError:
        text = body.decode(errors="replace").strip().splitlines()
        return f": {text[0]}" if text else ""
    if not isinstance(doc, Mapping) or "error" not in doc:
        return ""
    connected = doc.get("connected")
    tail = f" (connected: {', '.join(connected) or 'none'})" if isinstance(connected, list) else ""
    return f": {doc['error']}{tail}"


def _one_line(exc: object) -> str:
    return " ".join(str(exc).split())


# --- config directories ------------------------------------------------------------------------


def _load_store(label: str, path: str, read_dir: ReadDir) -> tuple[ConfigStore, tuple[str, ...]]:
    # The model and translator are imported when a config directory is used, not for two files.
    from meshpilot.model.loader import ConfigLoader

    result = ConfigLoader().load(read_dir(path))
    warnings = tuple(f"{label} {path}: {d}" for d in (*result.rejected, *result.conflicts))
    return result.store, warnings


def _specs_from_dumps(sides: Mapping[str, Side]) -> list[ProxySpec]:
    """The proxies of an Envoy config dump on the other side: its node id, labels, namespace."""
    specs = []
    for side in sides.values():
        if side.kind == ENVOY_DUMP:
            for p in side.proxies.values():
                if p.labels is not None:
                    specs.append(ProxySpec(p.node_id, dict(p.labels), p.namespace or ""))
    return specs


def _gateway_specs(stores: Any) -> list[ProxySpec]:
    """One gateway proxy per distinct Gateway selector, in the first such Gateway's namespace:
    `router~0.0.0.0~<selector values>.<ns>~<ns>.svc.cluster.local`."""
    by_selector: dict[tuple[tuple[str, str], ...], ProxySpec] = {}
    ids: set[str] = set()
    for store in stores:
        for gw in store.of_kind("Gateway"):
            selector = tuple(sorted((str(k), str(v)) for k, v in getattr(gw.spec, "selector", {}).items()))
            if selector in by_selector:
                continue
            pod = re.sub(r"[^a-z0-9-]+", "-", "-".join(f"{k}-{v}" for k, v in selector).lower()).strip("-")
            node_id = base = f"router~0.0.0.0~{pod or 'gateway'}.{gw.namespace}~{gw.namespace}.svc.cluster.local"
            n = 1
            while node_id in ids:
                n += 1
                node_id = base.replace(f"~{pod or 'gateway'}.", f"~{pod or 'gateway'}-{n}.", 1)
            ids.add(node_id)
            by_selector[selector] = ProxySpec(node_id, dict(selector), gw.namespace)
    return list(by_selector.values())


def _translate_side(
    label: str, path: str, store: ConfigStore, warnings: tuple[str, ...], specs: Sequence[ProxySpec]
) -> Side:
    from meshpilot.model.diagnostics import Severity
    from meshpilot.model.proxy import ProxyIdError, parse_proxy
    from meshpilot.translator import build_context, translate
    from meshpilot.translator.render import plain_all

    ctx = build_context(store)
    proxies: dict[str, ProxySnapshot] = {}
    extra = list(warnings)
    for spec in specs:
        try:
            proxy = parse_proxy(spec.node_id, {"LABELS": dict(spec.labels), "NAMESPACE": spec.namespace})
        except ProxyIdError as exc:
            raise DiffInputError(f"{label} {path}: {exc}") from None
        t = translate(ctx, proxy)
        extra += [f"{label} {path}: {d}" for d in t.diagnostics if d.severity == Severity.ERROR]
        resources = {
            LISTENERS: resources_by_name(LISTENERS, plain_all(t.listeners), rendered=True),
            ROUTES: resources_by_name(ROUTES, plain_all(t.routes), rendered=True),
            CLUSTERS: resources_by_name(CLUSTERS, plain_all(t.clusters), rendered=True),
            ENDPOINTS: resources_by_name(ENDPOINTS, plain_all(t.endpoints), rendered=True),
        }
        proxies[proxy.node_id] = ProxySnapshot(proxy.node_id, resources, dict(proxy.labels), proxy.namespace)
    return Side(label, path, CONFIG_DIR, dict(sorted(proxies.items())), tuple(dict.fromkeys(extra)))


__all__ = [
    "CONFIG_DIR",
    "ENVOY_DUMP",
    "MESHPILOT_DUMP",
    "ProxySpec",
    "load_sides",
    "parse_proxies_file",
    "read_proxies_file",
]
