"""Strict decoding of YAML/JSON values into protobuf messages, with field-path errors.

Unlike `google.protobuf.json_format`, every problem is reported with the exact path
(`spec.http[0].route[0].weight`) and what was expected, and all problems in a document
are collected rather than the first one only.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import difflib
import math
import re
from collections.abc import Callable
from typing import Any

from google.protobuf import descriptor as _d
from google.protobuf import duration_pb2, wrappers_pb2
from google.protobuf.message import Message

FD = _d.FieldDescriptor
Field = Any  # a FieldDescriptor (upb or pure-Python)

_INT32 = (-(2**31), 2**31 - 1)
_UINT32 = (0, 2**32 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_UINT64 = (0, 2**64 - 1)
_INT_RANGES = {
    FD.TYPE_INT32: _INT32,
    FD.TYPE_SINT32: _INT32,
    FD.TYPE_SFIXED32: _INT32,
    FD.TYPE_UINT32: _UINT32,
    FD.TYPE_FIXED32: _UINT32,
    FD.TYPE_INT64: _INT64,
    FD.TYPE_SINT64: _INT64,
    FD.TYPE_SFIXED64: _INT64,
    FD.TYPE_UINT64: _UINT64,
    FD.TYPE_FIXED64: _UINT64,
}
_WRAPPERS = {
    wrappers_pb2.BoolValue.DESCRIPTOR.full_name: bool,
    wrappers_pb2.UInt32Value.DESCRIPTOR.full_name: int,
    wrappers_pb2.Int32Value.DESCRIPTOR.full_name: int,
    wrappers_pb2.UInt64Value.DESCRIPTOR.full_name: int,
    wrappers_pb2.Int64Value.DESCRIPTOR.full_name: int,
    wrappers_pb2.DoubleValue.DESCRIPTOR.full_name: float,
    wrappers_pb2.FloatValue.DESCRIPTOR.full_name: float,
    wrappers_pb2.StringValue.DESCRIPTOR.full_name: str,
}
_DURATION = duration_pb2.Duration.DESCRIPTOR.full_name
_INT_OR_STRING = "meshpilot.api.kube.v1.IntOrString"
_DURATION_RE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_NANOS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}


@dataclasses.dataclass(frozen=True)
class FieldError:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


def describe(value: Any) -> str:
    """A short, user-facing description of a YAML value, e.g. `string "fifty"`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f'string "{shown}"'
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def parse_duration(text: str) -> int | None:
    """Go-style duration ("1m30s", "100ms", "2.5s") to nanoseconds, None if malformed."""
    if not text:
        return None
    if text == "0":
        return 0
    pos, total = 0, 0.0
    for m in _DURATION_RE.finditer(text):
        if m.start() != pos:
            return None
        total += float(m.group(1)) * _UNIT_NANOS[m.group(2)]
        pos = m.end()
    if pos != len(text):
        return None
    return round(total)


def decode(data: Any, cls: type[Message], path: str) -> tuple[Message, list[FieldError]]:
    """Decode `data` into a new `cls` message; returns the message and every error found."""
    msg = cls()
    errors: list[FieldError] = []
    _fill(msg, data, path, errors)
    return msg, errors


def _fill(msg: Message, data: Any, path: str, errors: list[FieldError]) -> None:
    desc = msg.DESCRIPTOR
    if not isinstance(data, dict):
        errors.append(FieldError(path, f"expected a mapping, got {describe(data)}"))
        return
    fields = {f.json_name: f for f in desc.fields} | {f.name: f for f in desc.fields}
    oneofs_seen: dict[str, str] = {}
    for key, value in data.items():
        sub = _join(path, str(key))
        field = fields.get(key) if isinstance(key, str) else None
        if field is None:
            known = sorted({f.json_name for f in desc.fields})
            hint = difflib.get_close_matches(str(key), known, n=1)
            extra = f'; did you mean "{hint[0]}"?' if hint else f" (known: {', '.join(known)})"
            errors.append(FieldError(sub, f"unknown field{extra}"))
            continue
        if value is None:
            continue  # YAML `field:` with nothing after it means "unset", as in Kubernetes.
        oneof = field.containing_oneof
        if oneof is not None:
            if oneof.name in oneofs_seen:
                errors.append(
                    FieldError(
                        path or desc.name,
                        f"only one of {', '.join(f.json_name for f in oneof.fields)} may be set "
                        f'(got "{oneofs_seen[oneof.name]}" and "{field.json_name}")',
                    )
                )
                continue
            oneofs_seen[oneof.name] = field.json_name
        _set_field(msg, field, value, sub, errors)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _set_field(msg: Message, field: Field, value: Any, path: str, errors: list[FieldError]) -> None:
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        _set_map(msg, field, value, path, errors)
    elif field.is_repeated:
        if not isinstance(value, list):
            errors.append(FieldError(path, f"expected a list, got {describe(value)}"))
            return
        container = getattr(msg, field.name)
        for i, item in enumerate(value):
            ipath = f"{path}[{i}]"
            if field.message_type is not None:
                _fill_message_value(container.add(), item, ipath, errors)
            else:
                scalar = _scalar(field, item, ipath, errors)
                if scalar is not None:
                    container.append(scalar)
    elif field.message_type is not None:
        _fill_message_value(getattr(msg, field.name), value, path, errors)
        if field.containing_oneof is not None:
            getattr(msg, field.name).SetInParent()
    else:
        scalar = _scalar(field, value, path, errors)
        if scalar is not None:
            setattr(msg, field.name, scalar)


def _set_map(msg: Message, field: Field, value: Any, path: str, errors: list[FieldError]) -> None:
    if not isinstance(value, dict):
        errors.append(FieldError(path, f"expected a mapping, got {describe(value)}"))
        return
    key_field = field.message_type.fields_by_name["key"]
    val_field = field.message_type.fields_by_name["value"]
    container = getattr(msg, field.name)
    for k, v in value.items():
        kpath = f"{path}.{k}" if isinstance(k, str) else f"{path}[{k!r}]"
        key = _scalar(key_field, k, kpath, errors, what="key")
        if key is None:
            continue
        if val_field.message_type is not None:
            _fill_message_value(container[key], v, kpath, errors)
        else:
            scalar = _scalar(val_field, v, kpath, errors)
            if scalar is not None:
                container[key] = scalar


def _fill_message_value(target: Message, value: Any, path: str, errors: list[FieldError]) -> None:
    full = target.DESCRIPTOR.full_name
    special = _SPECIAL.get(full)
    if special is not None:
        special(target, value, path, errors)
    else:
        _fill(target, value, path, errors)
        target.SetInParent()


def _duration(target: Message, value: Any, path: str, errors: list[FieldError]) -> None:
    assert isinstance(target, duration_pb2.Duration)
    nanos = parse_duration(value) if isinstance(value, str) else None
    if nanos is None or nanos < 0:
        errors.append(FieldError(path, f'expected a duration such as "5s" or "100ms", got {describe(value)}'))
        return
    target.seconds, target.nanos = divmod(nanos, 1_000_000_000)


def _wrapper(target: Message, value: Any, path: str, errors: list[FieldError]) -> None:
    field = target.DESCRIPTOR.fields_by_name["value"]
    scalar = _scalar(field, value, path, errors)
    if scalar is not None:
        target.value = scalar  # type: ignore[attr-defined]
    target.SetInParent()


def _int_or_string(target: Message, value: Any, path: str, errors: list[FieldError]) -> None:
    if isinstance(value, bool) or not isinstance(value, int | str):
        errors.append(FieldError(path, f"expected an integer or a string, got {describe(value)}"))
    elif isinstance(value, int):
        target.int_val = value  # type: ignore[attr-defined]
    else:
        target.str_val = value  # type: ignore[attr-defined]


_SPECIAL: dict[str, Callable[[Message, Any, str, list[FieldError]], None]] = {
    _DURATION: _duration,
    _INT_OR_STRING: _int_or_string,
    **{name: _wrapper for name in _WRAPPERS},
}


def _scalar(field: Field, value: Any, path: str, errors: list[FieldError], what: str = "") -> Any | None:
    t = field.type
    noun = f"{what} " if what else ""
    if t in _INT_RANGES:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                errors.append(FieldError(path, f"expected {noun}integer, got {describe(value)}"))
                return None
        lo, hi = _INT_RANGES[t]
        if not lo <= value <= hi:
            errors.append(FieldError(path, f"integer {value} out of range [{lo}, {hi}]"))
            return None
        return value
    if t in (FD.TYPE_DOUBLE, FD.TYPE_FLOAT):
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            errors.append(FieldError(path, f"expected {noun}number, got {describe(value)}"))
            return None
        return float(value)
    if t == FD.TYPE_BOOL:
        if not isinstance(value, bool):
            errors.append(FieldError(path, f"expected {noun}boolean, got {describe(value)}"))
            return None
        return value
    if t == FD.TYPE_STRING:
        if not isinstance(value, str):
            errors.append(
                FieldError(
                    path,
                    f"expected {noun}string, got {describe(value)} (quote it in YAML)"
                    if isinstance(value, int | float | bool)
                    else f"expected {noun}string, got {describe(value)}",
                )
            )
            return None
        return value
    if t == FD.TYPE_BYTES:
        # Protobuf's JSON mapping (and Istio's): bytes are base64.
        try:
            return base64.b64decode(value, validate=True) if isinstance(value, str) else None
        except binascii.Error:
            pass
        # The value is not repeated: bytes fields hold key material (Secrets).
        errors.append(FieldError(path, "expected base64-encoded bytes"))
        return None
    if t == FD.TYPE_ENUM:
        names = [v.name for v in field.enum_type.values]
        if isinstance(value, str) and value in names:
            return field.enum_type.values_by_name[value].number
        errors.append(FieldError(path, f"expected one of {', '.join(names)}, got {describe(value)}"))
        return None
    errors.append(FieldError(path, f"unsupported field type {t}"))  # pragma: no cover
    return None
