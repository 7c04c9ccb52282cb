"""Findings: the same shape and output as the rule linter's (file, line, rule, check, ...)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = ["Finding", "Severity", "exit_code", "render_json", "render_text"]


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class Finding:
    """One problem: where it is, which panel (``rule``), which check, how bad, what to do."""

    path: str
    line: int
    check: str
    severity: Severity
    message: str
    rule: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.path,
            "line": self.line,
            "rule": self.rule,
            "check": self.check,
            "severity": self.severity.value,
            "message": self.message,
        }


def render_text(findings: Iterable[Finding]) -> str:
    lines = []
    for f in findings:
        where = f" {f.rule}:" if f.rule else ""
        lines.append(f"{f.path}:{f.line}: {f.severity.value} [{f.check}]{where} {f.message}")
    return "\n".join(lines)


def render_json(findings: Iterable[Finding]) -> str:
    return json.dumps([f.as_dict() for f in findings], indent=2)


def exit_code(findings: Iterable[Finding]) -> int:
    """1 when any finding is an error, else 0."""
    return 1 if any(f.severity is Severity.ERROR for f in findings) else 0
