"""Semantic validation, the shared checks: what Istio's pkg/config/validation refuses or Envoy
would reject. One module per kind (validate_*.py); the registry is validators.py.

Each validator takes a decoded spec and returns FieldErrors with paths relative to the
document (`spec.http[0]...`). Regexes are checked with RE2, the engine Envoy uses.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import re2
from google.protobuf.message import Message

from meshpilot.api.networking.v1 import (
    common_pb2,
    virtual_service_pb2,
)
from meshpilot.model.decode import FieldError

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_HOST_LABEL = re.compile(r"^[a-zA-Z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_HEADER_NAME = re.compile(r"^[a-z0-9!#$%&'*+\-.^_`|~:]+$")
# Istio's Gateway/ServiceEntry protocols (protocol.Parse is case-insensitive).
PROTOCOLS = {
    "HTTP",
    "HTTPS",
    "GRPC",
    "GRPC-WEB",
    "HTTP2",
    "MONGO",
    "MYSQL",
    "REDIS",
    "TCP",
    "TLS",
    "UDP",
}
_REDIRECT_CODES = {301, 302, 303, 307, 308}
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False

Errors = list[FieldError]


def check_regex(pattern: str, path: str, errors: Errors) -> None:
    if not pattern:
        errors.append(FieldError(path, "regex must not be empty"))
        return
    try:
        re2.compile(pattern, _RE2_OPTIONS)
    except re2.error as exc:
        detail = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        errors.append(FieldError(path, f"invalid RE2 regex {pattern!r}: {detail}"))


def check_name(name: str, path: str, errors: Errors) -> None:
    if not name:
        errors.append(FieldError(path, "required"))
    elif len(name) > 253 or not _DNS1123_SUBDOMAIN.match(name):
        errors.append(
            FieldError(
                path,
                f"invalid name {name!r}: expected lowercase letters, digits, '-' and '.', "
                "starting and ending with a letter or digit (RFC 1123)",
            )
        )


def check_labels(labels: Iterable[tuple[str, str]], path: str, errors: Errors) -> None:
    for k, v in labels:
        key = k.split("/")[-1]
        if not key or len(key) > 63 or not _HOST_LABEL.match(key.replace(".", "a")):
            errors.append(FieldError(f"{path}.{k}", f"invalid label key {k!r}"))
        if len(v) > 63 or not _LABEL_VALUE.match(v):
            errors.append(FieldError(f"{path}.{k}", f"invalid label value {v!r}"))


def check_port(number: int, path: str, errors: Errors) -> None:
    if not 1 <= number <= 65535:
        errors.append(FieldError(path, f"port {number} out of range [1, 65535]"))


def check_fqdn(host: str, path: str, errors: Errors, *, wildcard: bool = True) -> None:
    """A hostname, optionally with a leading `*.` or exactly `*`."""
    if host == "*" and wildcard:
        return
    name = host[2:] if wildcard and host.startswith("*.") else host
    if not name or len(name) > 255:
        errors.append(FieldError(path, f"invalid host {host!r}"))
        return
    for label in name.split("."):
        if not label or len(label) > 63 or not _HOST_LABEL.match(label):
            errors.append(
                FieldError(
                    path,
                    f"invalid host {host!r}: expected a DNS name, optionally starting with '*.'",
                )
            )
            return


def _check_string_match(m: common_pb2.StringMatch, path: str, errors: Errors) -> None:
    which = m.WhichOneof("match_type")
    if which is None:
        errors.append(FieldError(path, "expected one of exact, prefix, regex"))
    elif which == "regex":
        check_regex(m.regex, f"{path}.regex", errors)


def _check_duration(d: Message, path: str, errors: Errors, minimum_ms: int = 1) -> None:
    ms = d.seconds * 1000 + d.nanos // 1_000_000  # type: ignore[attr-defined]
    if ms < minimum_ms:
        errors.append(FieldError(path, f"duration must be at least {minimum_ms}ms"))


def _check_percent(p: virtual_service_pb2.Percent, path: str, errors: Errors) -> None:
    if not 0.0 <= p.value <= 100.0:
        errors.append(FieldError(f"{path}.value", f"percentage {p.value} out of range [0, 100]"))
