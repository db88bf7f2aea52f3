"""structlog, configured once: JSON lines when stdout is not a TTY, readable console otherwise.

Event names are fixed (see docs/operations.md): config.loaded, config.rejected,
translate.diagnostic, snapshot.inconsistent, snapshot.published, xds.stream_opened,
xds.stream_closed, xds.push, xds.ack, xds.nack, xds.send_failed.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

_configured = False


def configure(level: str = "info", json: bool | None = None) -> None:
    global _configured
    if json is None:
        json = not sys.stdout.isatty()
    renderer: Any = (
        structlog.processors.JSONRenderer(sort_keys=False)
        if json
        else structlog.dev.ConsoleRenderer(colors=sys.stdout.isatty())
    )
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stdout),
        cache_logger_on_first_use=True,
    )
    _configured = True


def get_logger() -> Any:
    if not _configured:
        configure()
    return structlog.get_logger("meshpilot")
