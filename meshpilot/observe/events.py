"""The event catalog: every structured log event meshpilot emits, with its level and keys.

`emit(name, **fields)` is the only way the shell logs. The catalog is the schema that
docs/operations.md documents and that the tests check every emitted line against.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from meshpilot.model.diagnostics import Diagnostic
from meshpilot.observe.log import get_logger


@dataclasses.dataclass(frozen=True)
class EventSpec:
    name: str
    level: str
    keys: tuple[str, ...]
    meaning: str
    action: str


def _e(name: str, level: str, keys: str, meaning: str, action: str = "") -> EventSpec:
    return EventSpec(name, level, tuple(keys.split()), meaning, action)


CATALOG: dict[str, EventSpec] = {
    e.name: e
    for e in (
        _e("serve.started", "info", "xds_address admin_address config", "meshpilot is serving."),
        _e("serve.stopping", "info", "", "meshpilot received SIGINT/SIGTERM and is shutting down."),
        _e(
            "serve.waiting",
            "error",
            "reason rejected",
            "The first config load found only errors; meshpilot refuses proxies (and /ready is 503) "
            "rather than serve an empty config that would wipe them.",
            "Fix the rejected documents (config.rejected events); meshpilot becomes ready by itself.",
        ),
        _e(
            "config.loaded",
            "info",
            "revision objects rejected conflicts changed duration_ms",
            "A config load finished; `changed` says whether the valid config differs from before.",
        ),
        _e(
            "config.rejected",
            "error",
            "file doc object path reason kept_last_good message",
            "A document was refused: it could not be decoded, or failed validation.",
            "Fix the field at `path` in `file`, document `doc`. If `kept_last_good`, the previous "
            "version of the object still serves; otherwise the object is absent.",
        ),
        _e(
            "config.conflict",
            "warning",
            "objects winner reason where",
            "Several objects claim the same thing (an object defined twice, a hostname defined by "
            "two services, a gateway host routed by several VirtualServices).",
            "Check that `winner` is the intended one; remove or rename the others.",
        ),
        _e("config.ignored", "warning", "where message", "A document of a kind meshpilot does not read."),
        _e(
            "config.load_failed",
            "error",
            "error",
            "An unexpected failure while loading config; the last good config keeps serving.",
            "Report it as a bug with the log line.",
        ),
        _e(
            "translate.diagnostic",
            "warning",
            "node_group severity object path where message",
            "A translation finding: a route to a host with no service, an unsupported field ignored, a missing subset.",
            "Fix the object and field named; traffic for that route may get 503 until then.",
        ),
        _e(
            "snapshot.inconsistent",
            "error",
            "node_group missing",
            "A snapshot referenced names it did not contain and was not published; proxies keep the previous one.",
            "A meshpilot bug: report it with the log line and the config.",
        ),
        _e(
            "snapshot.published",
            "info",
            "node_group revision versions",
            "A group of identical proxies got new config.",
        ),
        _e("xds.stream_opened", "info", "node_id conn peer", "A proxy connected."),
        _e(
            "xds.stream_refused",
            "error",
            "node_id error",
            "A proxy's node id or metadata could not be understood; its stream was refused.",
            "Fix the proxy's bootstrap (see `meshpilot bootstrap`).",
        ),
        _e("xds.stream_closed", "info", "node_id conn reason", "A proxy disconnected."),
        _e(
            "xds.push",
            "debug",
            "node_id type_url version nonce resources bytes duration_ms",
            "A response was sent to a proxy.",
        ),
        _e(
            "xds.ack",
            "debug",
            "node_id type_url version nonce",
            "A proxy accepted a response.",
        ),
        _e(
            "xds.nack",
            "error",
            "node_id type_url version current_version nonce error objects",
            "A proxy rejected config (`version`); it keeps running on `current_version`. "
            "`objects` are the meshpilot objects that produced the rejected resources.",
            "Read Envoy's `error`, fix the objects listed. The proxy keeps its old config and "
            "will fail the same way after a restart until this is fixed.",
        ),
        _e(
            "xds.send_failed",
            "error",
            "node_id conn error",
            "A stream failed while sending; the proxy reconnects and resyncs.",
            "If it repeats, check the network between proxy and meshpilot and message sizes.",
        ),
        _e("xds.stale_request", "debug", "node_id type_url nonce", "A request with an old nonce, ignored."),
    )
}


class UnknownEvent(ValueError):
    pass


def emit(name: str, **fields: Any) -> None:
    """Log one catalog event at its catalog level."""
    spec = CATALOG.get(name)
    if spec is None:
        raise UnknownEvent(f"event {name!r} is not in the catalog (meshpilot/observe/events.py)")
    getattr(get_logger(), spec.level)(name, **fields)


def emit_conflict(d: Diagnostic) -> None:
    """`config.conflict` for a diagnostic that names conflicting objects (the winner first)."""
    emit("config.conflict", objects=list(d.conflict), winner=d.conflict[0], reason=d.message, where=d.where)


def missing_keys(event: dict[str, Any]) -> list[str]:
    """Documented keys an emitted event (a parsed JSON log line) lacks; [] if it conforms."""
    spec = CATALOG.get(str(event.get("event")))
    if spec is None:
        return ["<event not in catalog>"]
    return [k for k in spec.keys if k not in event]
