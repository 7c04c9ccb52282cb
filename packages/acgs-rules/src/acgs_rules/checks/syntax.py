"""promql/syntax: the expression must parse (pure-Python parser, with line and column), and
evaluate to an instant vector or a scalar: a range vector (``up[5m]``) or a string passes
``promtool check rules`` 2.42 but fails every rule evaluation."""

from __future__ import annotations

from collections.abc import Iterator

from acgs_rules.checks.base import Check
from acgs_rules.context import LintContext
from acgs_rules.model import Finding
from acgs_rules.promql import ValueType, value_type

_TYPE_NAMES = {ValueType.MATRIX: "a range vector", ValueType.STRING: "a string"}


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
            continue
        tree = ctx.tree(rule)
        kind = value_type(tree) if tree is not None else None
        if kind in _TYPE_NAMES:
            yield ctx.finding(
                rule,
                CHECK.name,
                f"the expression returns {_TYPE_NAMES[kind]}; a rule must return an instant "
                "vector or a scalar, so every evaluation fails (wrap a range in a function "
                "such as rate() or max_over_time())",
                line=rule.line_of("expr"),
            )


CHECK = Check("promql/syntax", "the expression is valid PromQL", run)
