"""Diagnostics: user-facing findings returned as values, never raised."""

from __future__ import annotations

import dataclasses
import enum


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclasses.dataclass(frozen=True, order=True)
class Diagnostic:
    """One finding about one object, with the field path it concerns.

    `where` names the source (file and document) when known, `obj` is `Kind namespace/name`.
    """

    severity: Severity
    obj: str
    path: str
    message: str
    where: str = ""
    # For conflicts: the objects involved, the winner first (logged as `config.conflict`).
    conflict: tuple[str, ...] = ()

    def __str__(self) -> str:
        head = " ".join(p for p in (self.where, self.obj) if p)
        loc = f"{self.path}: " if self.path else ""
        return f"{head}: {loc}{self.message}" if head else f"{loc}{self.message}"

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "severity": str(self.severity),
            "object": self.obj,
            "path": self.path,
            "message": self.message,
            "where": self.where,
        }
        if self.conflict:
            out["conflict"] = list(self.conflict)
        return out
