"""promql/syntax: the expression must parse (pure-Python parser, with line and column)."""

from __future__ import annotations

from collections.abc import Iterator

from acgs_rules.checks.base import Check
from acgs_rules.context import LintContext
from acgs_rules.model import Finding


def run(ctx: LintContext) -> Iterator[Finding]:
    for rule in ctx.rules():
        error = ctx.parse_error(rule)
        if error is not None:
            yield ctx.finding(
                rule,
                CHECK.name,
                f"invalid PromQL: {error.message} (expression line {error.line}, "
                f"column {error.column})",
                line=ctx.expr_line(rule, error.position),
            )


CHECK = Check("promql/syntax", "the expression is valid PromQL", run)
