"""Helpers: write rule files into a temporary folder and lint them."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from acgs_promql.findings import Finding
from acgs_rules.lint import LintResult, lint
from acgs_rules.settings import LintSettings

GOOD_ANNOTATIONS = """\
        labels:
          severity: warning
        annotations:
          summary: "s"
          description: "d"
          runbook_url: https://example.org/runbook
"""


def make_alert_file(expr: str, *, name: str = "A", extra: str = "", for_: str = "for: 1m") -> str:
    """A one-alert rule file with every required field, so only ``expr`` can be wrong."""
    expr_block = textwrap.indent(expr.strip(), " " * 10)
    return (
        "groups:\n"
        "  - name: g\n"
        "    rules:\n"
        f"      - alert: {name}\n"
        f"        expr: |\n{expr_block}\n"
        f"        {for_}\n" + GOOD_ANNOTATIONS + extra
    )


Linter = Callable[..., list[Finding]]


@pytest.fixture
def lint_text(tmp_path: Path) -> Linter:
    """Write ``text`` as a rule file and return the static findings of the named checks."""

    def run(text: str, *checks: str, settings: LintSettings | None = None) -> list[Finding]:
        path = tmp_path / "rules.yml"
        path.write_text(text)
        result: LintResult = lint([path], settings or LintSettings(), promtool=False)
        if checks:
            return [f for f in result.findings if f.check in checks]
        return result.findings

    return run


@pytest.fixture
def alert_file() -> Callable[..., str]:
    """Build a one-alert rule file around an expression (see :func:`make_alert_file`)."""
    return make_alert_file
