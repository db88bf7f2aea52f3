"""Render Envoy protos as plain dicts (for YAML/JSON output, goldens and debug endpoints).

Fields keep their declaration order, so output reads like Envoy's own YAML. Map fields and
`google.protobuf.Struct` keys (e.g. `metadata.filter_metadata`) are sorted: protobuf's JSON
printer walks them in upb's hash order, which is seeded per process, so without sorting the
same message would print differently from one run to the next.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from google.protobuf import any_pb2, descriptor_pool, json_format, message_factory
from google.protobuf.message import Message


def plain(msg: Message) -> dict[str, Any]:
    """Proto -> plain dict with proto field names (`route_config_name`), deterministic."""
    raw = json.loads(json_format.MessageToJson(msg, preserving_proto_field_name=True))
    out = _redact(_sort_maps(msg, raw))
    assert isinstance(out, dict)
    return out


def _redact(value: Any) -> Any:
    """Private keys are never printed: shown as Envoy's own config dump shows them."""
    if isinstance(value, dict):
        return {
            k: {"inline_string": "[redacted]"}
            if k == "private_key" and isinstance(v, dict) and "filename" not in v
            else _redact(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return value


def plain_all(msgs: Iterable[Message]) -> list[dict[str, Any]]:
    return [plain(m) for m in msgs]


_JSON_SHAPED = {"google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue"}


def _sort_all(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sort_all(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sort_all(v) for v in value]
    return value


def _map_key(key: Any) -> str:
    """The JSON object key protobuf prints for a map key."""
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)


def _sort_maps(msg: Message, rendered: Any) -> Any:
    """`rendered` (plain(msg) or a part of it) with its map and Struct keys sorted."""
    if not isinstance(rendered, dict):
        return rendered  # well-known types printed as scalars: Duration, wrappers, ...
    desc = msg.DESCRIPTOR
    if desc.full_name in _JSON_SHAPED:
        return _sort_all(rendered)
    if desc.full_name == "google.protobuf.Any":
        assert isinstance(msg, any_pb2.Any)
        cls = message_factory.GetMessageClass(descriptor_pool.Default().FindMessageTypeByName(msg.TypeName()))
        inner = cls()
        msg.Unpack(inner)
        body = {k: v for k, v in rendered.items() if k != "@type"}
        # A well-known type inside an Any is printed as {"value": ...}.
        wkt = inner.DESCRIPTOR.full_name.startswith("google.protobuf.")
        body = _sort_all(body) if wkt else _sort_maps(inner, body)
        return {"@type": rendered["@type"], **body}
    out = dict(rendered)
    for fd in desc.fields:
        if fd.name not in out or fd.message_type is None:
            continue
        value = getattr(msg, fd.name)
        if fd.message_type.GetOptions().map_entry:
            by_key = {_map_key(k): k for k in value}
            items = out[fd.name]
            if fd.message_type.fields_by_name["value"].message_type is None:
                out[fd.name] = {k: items[k] for k in sorted(items)}
            else:
                out[fd.name] = {k: _sort_maps(value[by_key[k]], items[k]) for k in sorted(items)}
        elif fd.is_repeated:
            out[fd.name] = [_sort_maps(m, r) for m, r in zip(value, out[fd.name], strict=True)]
        else:
            out[fd.name] = _sort_maps(value, out[fd.name])
    return out
