"""What the linters report: a :class:`Finding` (where, which rule, which check, how bad, what)."""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["Finding", "Severity"]


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class Finding:
    """One problem: where it is, which rule (or dashboard / panel), which check, how bad,
    and what to do."""

    path: str
    line: int
    check: str
    severity: Severity
    message: str
    rule: str = ""
    # Line of the rule the finding is about (0: none), to apply its silencing comments.
    anchor: int = field(default=0, compare=False)

    @classmethod
    def internal_error(cls, check: str, error: Exception) -> Finding:
        """A check that crashed: reported as a finding so the other checks still count."""
        where = traceback.extract_tb(error.__traceback__)[-1]
        return cls(
            "",
            0,
            check,
            Severity.ERROR,
            f"internal error in check (please report): {error!r} at "
            f"{where.filename}:{where.lineno}",
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.path,
            "line": self.line,
            "rule": self.rule,
            "check": self.check,
            "severity": self.severity.value,
            "message": self.message,
        }
