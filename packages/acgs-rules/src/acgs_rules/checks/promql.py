"""The PromQL checks of :mod:`acgs_promql`, run over every rule's expression.

The check says what is wrong in the expression and where (a character offset); this
adapter adds the file, the line (inside block scalars too) and the rule name.
"""

from __future__ import annotations

from collections.abc import Iterator

from acgs_promql.checks.base import Check as PromQLCheck
from acgs_promql.findings import Finding
from acgs_rules.checks.base import Check
from acgs_rules.context import LintContext


def rule_check(check: PromQLCheck) -> Check:
    """``check`` as a rule-linter check."""

    def run(ctx: LintContext) -> Iterator[Finding]:
        for rule in ctx.rules():
            for problem in check.run(ctx.expression(rule), ctx.index, ctx.options):
                line = (
                    rule.line_of("expr")
                    if problem.position is None
                    else ctx.expr_line(rule, problem.position)
                )
                yield ctx.finding(rule, check.name, problem.message, problem.severity, line)

    return Check(check.name, check.summary, run, package="acgs-promql")
