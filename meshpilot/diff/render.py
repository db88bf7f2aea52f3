"""Print a DiffResult: text for people (colour optional), JSON for programs."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from meshpilot.diff.differ import ADDED, CHANGED, EQUAL, REMOVED, DiffResult, ProxyDiff, ResourceDiff
from meshpilot.diff.fields import MOVED, Change
from meshpilot.diff.snapshots import TYPES

Paint = Callable[[str, str], str]  # (kind, text) -> text, coloured or not
MAX_VALUE = 160  # characters of one value in text output (JSON output has everything)

_SYMBOL = {ADDED: "+", REMOVED: "-", CHANGED: "~", MOVED: "~"}
_COLOUR = {ADDED: "32", REMOVED: "31", CHANGED: "33", MOVED: "33", "head": "1", "sources": "36"}


def want_color(mode: str, isatty: bool, environ: Mapping[str, str]) -> bool:
    """--color auto|always|never; auto: a terminal, unless NO_COLOR is set or TERM is dumb."""
    if mode != "auto":
        return mode == "always"
    return isatty and not environ.get("NO_COLOR") and environ.get("TERM") != "dumb"


def summary(result: DiffResult) -> str:
    """`2 proxies: 1 changed (3 resources: +1 -0 ~2)`."""
    n = len(result.proxies)
    changed = sum(p.status != EQUAL for p in result.proxies)
    line = f"{n} {'proxy' if n == 1 else 'proxies'}: {changed} changed"
    if changed:
        a, r, c = result.count(ADDED), result.count(REMOVED), result.count(CHANGED)
        total = a + r + c
        line += f" ({total} {'resource' if total == 1 else 'resources'}: +{a} -{r} ~{c})"
    return line


def render_text(result: DiffResult, *, color: bool = False) -> str:
    def paint(kind: str, text: str) -> str:
        return f"\033[{_COLOUR[kind]}m{text}\033[0m" if color else text

    lines: list[str] = []
    if result.different:
        lines.append(paint(REMOVED, f"--- OLD {result.old.source} ({result.old.kind})"))
        lines.append(paint(ADDED, f"+++ NEW {result.new.source} ({result.new.kind})"))
    for proxy in result.proxies:
        if proxy.status != EQUAL:
            lines += _proxy_lines(proxy, paint)
    lines.append(summary(result))
    return "\n".join(lines) + "\n"


def _proxy_lines(proxy: ProxyDiff, paint: Paint) -> list[str]:
    if proxy.status == ADDED:
        head = f"proxy {proxy.new_node} (only in NEW)"
    elif proxy.status == REMOVED:
        head = f"proxy {proxy.old_node} (only in OLD)"
    elif proxy.old_node != proxy.new_node:
        head = f"proxy {proxy.old_node} (OLD) vs {proxy.new_node} (NEW)"
    else:
        head = f"proxy {proxy.node_id}"
    out = [paint("head", head)]
    for t in TYPES:
        resources = [r for r in proxy.resources if r.type == t]
        if not resources:
            continue
        out.append(f"  {t}")
        for r in resources:
            out.append(f"    {paint(r.status, _SYMBOL[r.status] + ' ' + r.name)}{_sources(r.sources, paint)}")
            out += [f"        {_change_line(c, r, paint)}" for c in r.changes]
    return out


def _sources(sources: tuple[str, ...], paint: Paint) -> str:
    return "  " + paint("sources", "[" + ", ".join(sources) + "]") if sources else ""


def _value(v: Any) -> str:
    text: str = json.dumps(v, ensure_ascii=False)
    if len(text) <= MAX_VALUE:
        return text
    if isinstance(v, Mapping) and isinstance(v.get("name"), str):
        text = f"{{{json.dumps('name')}: {json.dumps(v['name'], ensure_ascii=False)}, …}}"
        return f"{text} ({len(v)} fields; -o json shows all)"
    return f"{text[:MAX_VALUE]}… (-o json shows all)"


def _change_line(c: Change, r: ResourceDiff, paint: Paint) -> str:
    if c.op == CHANGED:
        body = f"{c.path}: {_value(c.old)} -> {_value(c.new)}"
    elif c.op == ADDED:
        body = f"{c.path}: {_value(c.new)}"
    elif c.op == REMOVED:
        body = f"{c.path}: {_value(c.old)}"
    else:
        body = f"{c.path}: moved from position {c.old} to {c.new}"
    # Name the objects per change only when the resource's changes come from several.
    tail = _sources(c.sources, paint) if c.sources != r.sources else ""
    return paint(c.op, f"{_SYMBOL[c.op]} {body}") + tail


def to_json(result: DiffResult) -> dict[str, Any]:
    return {
        "old": {"source": result.old.source, "kind": result.old.kind},
        "new": {"source": result.new.source, "kind": result.new.kind},
        "equal": not result.different,
        "summary": {
            "proxies": len(result.proxies),
            "changed": sum(p.status != EQUAL for p in result.proxies),
            "resources": {s: result.count(s) for s in (ADDED, REMOVED, CHANGED)},
            "text": summary(result),
        },
        "proxies": [_proxy_json(p) for p in result.proxies],
        "warnings": list(result.warnings),
    }


def _proxy_json(p: ProxyDiff) -> dict[str, Any]:
    types: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for t in TYPES:
        if t in p.not_compared:
            continue
        types[t] = {ADDED: [], REMOVED: [], CHANGED: []}
    for r in p.resources:
        entry: dict[str, Any] = {"name": r.name, "sources": list(r.sources)}
        if r.status == CHANGED:
            entry["changes"] = [c.as_dict() for c in r.changes]
        types[r.type][r.status].append(entry)
    return {
        "node_id": p.node_id,
        "old_node_id": p.old_node,
        "new_node_id": p.new_node,
        "status": p.status,
        "not_compared": list(p.not_compared),
        "types": types,
    }


def render_json(result: DiffResult) -> str:
    return json.dumps(to_json(result), indent=2, ensure_ascii=False) + "\n"
