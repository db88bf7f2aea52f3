"""`meshpilot diff`: compare two snapshots of Envoy config, per proxy and xDS type, field by field.

Pure library code (no grpc, no asyncio): `load_sides` reads the inputs, `compare` diffs them,
`render_text` / `render_json` print the result. The CLI passes in how to read a config directory.
"""

from __future__ import annotations

from meshpilot.diff.differ import DiffResult, ProxyDiff, ResourceDiff, compare
from meshpilot.diff.fields import Change, diff_fields
from meshpilot.diff.inputs import ProxySpec, load_sides, parse_proxies_file, read_proxies_file
from meshpilot.diff.render import render_json, render_text, summary, to_json, want_color
from meshpilot.diff.snapshots import DiffInputError

__all__ = [
    "Change",
    "DiffInputError",
    "DiffResult",
    "ProxyDiff",
    "ProxySpec",
    "ResourceDiff",
    "compare",
    "diff_fields",
    "load_sides",
    "parse_proxies_file",
    "read_proxies_file",
    "render_json",
    "render_text",
    "summary",
    "to_json",
    "want_color",
]
