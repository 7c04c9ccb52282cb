"""Finding output in the rule linter's formats: one line per finding, or JSON.

The :class:`~acgs_rules.model.Finding` type itself is the rule linter's; a finding's ``rule``
is ``dashboard title / panel title / refId`` here.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from acgs_rules.model import Finding, Severity

__all__ = ["exit_code", "print_text", "render_json"]


def exit_code(findings: Sequence[Finding]) -> int:
    """1 when any finding is an error, else 0 (as ``acgs-rules lint``)."""
    return 1 if any(f.severity is Severity.ERROR for f in findings) else 0


def _summary(findings: Sequence[Finding], dashboards: int) -> dict[str, int]:
    return {
        "dashboards": dashboards,
        "errors": sum(f.severity is Severity.ERROR for f in findings),
        "warnings": sum(f.severity is Severity.WARNING for f in findings),
    }


def render_json(findings: Sequence[Finding], dashboards: int) -> str:
    payload = {
        "findings": [f.as_dict() for f in findings],
        "summary": _summary(findings, dashboards),
    }
    return json.dumps(payload, indent=2)


def print_text(findings: Sequence[Finding], dashboards: int, console: Console) -> None:
    for f in findings:
        style = "red" if f.severity is Severity.ERROR else "yellow"
        rule = f" {f.rule}:" if f.rule else ""
        location = f"{f.path}:{f.line}" if f.line else f.path
        console.print(
            f"{location}: [{style}]{f.severity}[/{style}] [bold]\\[{f.check}][/bold]"
            f"{rule} {f.message}",
            highlight=False,
            soft_wrap=True,
        )
    if findings:
        table = Table(title="findings by check")
        table.add_column("check")
        table.add_column("errors", justify="right")
        table.add_column("warnings", justify="right")
        errors = Counter(f.check for f in findings if f.severity is Severity.ERROR)
        warnings = Counter(f.check for f in findings if f.severity is Severity.WARNING)
        for name in sorted(set(errors) | set(warnings)):
            table.add_row(name, str(errors[name]), str(warnings[name]))
        console.print(table)
    summary = _summary(findings, dashboards)
    console.print(
        f"{summary['dashboards']} dashboard(s): {summary['errors']} error(s), "
        f"{summary['warnings']} warning(s)",
        highlight=False,
    )
