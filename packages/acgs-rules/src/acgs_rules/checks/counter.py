"""promql/counter: ``rate``/``irate``/``increase`` only on counters, and a counter never
compared raw in an alert (its value only grows, so ``x_total > 0`` fires forever after one
event)."""

from __future__ import annotations

from collections.abc import Iterator

from acgs_rules.checks.base import Check
from acgs_rules.context import LintContext
from acgs_rules.model import Finding, Rule, Severity
from acgs_rules.promql import COMPARISON_OPS, BinaryExpr, Expr, analyze, walk

COUNTER_FUNCTIONS = {"rate", "irate", "increase", "resets"}
# Aggregations that count series rather than add their values.
_COUNTING = {"count", "group", "count_values"}


def run(ctx: LintContext) -> Iterator[Finding]:
    for rule in ctx.rules():
        tree = ctx.tree(rule)
        if tree is None:
            continue
        analysis = analyze(tree)
        for use in analysis.selectors:
            if use.name is None:
                continue
            is_counter = ctx.index.is_counter(use.name)
            line = ctx.expr_line(rule, use.pos)
            if use.function in COUNTER_FUNCTIONS and is_counter is False:
                info = ctx.index.get(use.name)
                kind = info.type if info else "not a counter"
                yield ctx.finding(
                    rule,
                    CHECK.name,
                    f"{use.function}() on {use.name}, a {kind}: {use.function} assumes a "
                    f"counter and treats every drop as a reset; use deriv() or delta() for "
                    f"gauges",
                    line=line,
                )
        if rule.is_alert and analysis.has_comparison:
            yield from _raw_counter_compares(ctx, rule, tree)


def _raw_counter_compares(ctx: LintContext, rule: Rule, tree: Expr) -> Iterator[Finding]:
    # x_total - x_total offset 1h is a hand-made increase: leave it alone.
    if any(u.selector.offset is not None for u in analyze(tree).selectors):
        return
    reported: set[int] = set()
    for node in walk(tree):
        if not isinstance(node, BinaryExpr) or node.op not in COMPARISON_OPS:
            continue
        for side in (node.lhs, node.rhs):
            # A ratio of lifetime totals is odd but does not fire forever: warn only.
            ratio = any(isinstance(n, BinaryExpr) and n.op == "/" for n in walk(side))
            for use in analyze(side).selectors:
                if use.name is None or ctx.index.is_counter(use.name) is not True:
                    continue
                if use.function is not None or _COUNTING & set(use.aggregations):
                    continue
                if use.pos in reported:
                    continue
                reported.add(use.pos)
                if ratio:
                    message = (
                        f"counter {use.name} is used raw in a ratio: it compares lifetime totals "
                        f"since the process started; use rate({use.name}[...])"
                    )
                else:
                    message = (
                        f"counter {use.name} is compared raw: it only goes up, so the alert "
                        f"keeps firing after one event; compare rate({use.name}[...]) or "
                        f"increase({use.name}[...]) instead"
                    )
                yield ctx.finding(
                    rule,
                    CHECK.name,
                    message,
                    Severity.WARNING if ratio else Severity.ERROR,
                    line=ctx.expr_line(rule, use.pos),
                )


CHECK = Check("promql/counter", "counter functions on counters only; no raw counter compares", run)
