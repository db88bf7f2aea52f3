"""Render Envoy protos as plain dicts (for YAML/JSON output, goldens and debug endpoints)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message


def plain(msg: Message) -> dict[str, Any]:
    """Proto -> plain dict with proto field names (`route_config_name`), Envoy's YAML style."""
    out: dict[str, Any] = json.loads(json_format.MessageToJson(msg, preserving_proto_field_name=True))
    return out


def plain_all(msgs: Iterable[Message]) -> list[dict[str, Any]]:
    return [plain(m) for m in msgs]
