"""alert/comparison: an alert needs a condition that filters (else it always fires), and a
comparison that can never be true makes an alert that never fires. An alert that reads no
metric at all (``vector(1)``, a watchdog) is meant to fire always and is left alone.

Value bounds come from the catalog (``value_range``), counters (never negative) and what
functions return (``rate`` >= 0, ``absent`` = 1, ``up`` in 0..1, ...).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from acgs_promql.findings import Finding
from acgs_promql.language import COMPARISON_OPS, ValueType
from acgs_promql.tree import (
    AggregateExpr,
    BinaryExpr,
    Call,
    Expr,
    MatrixSelector,
    NumberLiteral,
    ParenExpr,
    SubqueryExpr,
    UnaryExpr,
    VectorSelector,
    value_type,
    walk,
)
from acgs_rules.checks.base import Check
from acgs_rules.context import LintContext

Bounds = tuple[float, float]
_ANY: Bounds = (-math.inf, math.inf)
_NON_NEGATIVE: Bounds = (0.0, math.inf)
_NON_NEGATIVE_FUNCS = {
    "rate",
    "irate",
    "increase",
    "changes",
    "resets",
    "count_over_time",
    "abs",
    "sqrt",
    "exp",
    "histogram_count",
    "timestamp",
    "time",
}
_SAME_BOUNDS_FUNCS = {
    "avg_over_time",
    "min_over_time",
    "max_over_time",
    "last_over_time",
    "quantile_over_time",
    "sort",
    "sort_desc",
    "ceil",
    "floor",
    "round",
    "label_replace",
    "label_join",
}
_SAME_BOUNDS_AGGS = {"avg", "min", "max", "quantile", "topk", "bottomk", "limitk", "limit_ratio"}
# Series whose values are known: up is 0 or 1.
_FIXED = {"up": (0.0, 1.0)}


def bounds(ctx: LintContext, node: Expr) -> Bounds:
    """An interval that surely holds every value of ``node`` (NaN aside)."""
    if isinstance(node, NumberLiteral):
        return (node.value, node.value)
    if isinstance(node, ParenExpr):
        return bounds(ctx, node.expr)
    if isinstance(node, UnaryExpr):
        low, high = bounds(ctx, node.expr)
        return (-high, -low)
    if isinstance(node, MatrixSelector | SubqueryExpr):
        return bounds(ctx, node.vector if isinstance(node, MatrixSelector) else node.expr)
    if isinstance(node, VectorSelector):
        if node.name in _FIXED:
            return _FIXED[node.name]
        info = ctx.index.get(node.name) if node.name else None
        if info and info.spec and info.spec.value_range and info.name == info.spec.name:
            return info.spec.value_range
        if info and info.type == "counter":
            return _NON_NEGATIVE
        return _ANY
    if isinstance(node, Call):
        if node.func in ("absent", "absent_over_time", "present_over_time"):
            return (1.0, 1.0)
        if node.func in _NON_NEGATIVE_FUNCS:
            return _NON_NEGATIVE
        if node.func in _SAME_BOUNDS_FUNCS and node.args:
            arg = node.args[-1] if node.func == "quantile_over_time" else node.args[0]
            return bounds(ctx, arg)
        if node.func == "histogram_quantile":
            return _quantile_bounds(ctx, node)
        if node.func == "clamp_min":
            low, high = bounds(ctx, node.args[0])
            floor = bounds(ctx, node.args[1])[0]
            return (max(low, floor), max(high, floor))
        if node.func == "clamp_max":
            low, high = bounds(ctx, node.args[0])
            ceiling = bounds(ctx, node.args[1])[1]
            return (min(low, ceiling), min(high, ceiling))
        return _ANY
    if isinstance(node, AggregateExpr):
        if node.op in ("count",):
            return (1.0, math.inf)
        if node.op == "group":
            return (1.0, 1.0)
        inner = bounds(ctx, node.expr)
        if node.op in _SAME_BOUNDS_AGGS:
            return inner
        if node.op == "sum" and inner[0] >= 0:
            return _NON_NEGATIVE
        return _ANY
    if isinstance(node, BinaryExpr):
        return _binary_bounds(ctx, node)
    return _ANY


def _quantile_bounds(ctx: LintContext, node: Call) -> Bounds:
    """histogram_quantile never returns more than the highest finite bucket boundary."""
    tops: list[float] = []
    for selector in walk(node.args[1]):
        if not isinstance(selector, VectorSelector):
            continue
        info = ctx.index.get(selector.name) if selector.name else None
        spec = info.spec if info else None
        if spec is None or spec.buckets is None or not (selector.name or "").endswith("_bucket"):
            return _ANY
        tops.append(max(spec.buckets))
    return (0.0, max(tops)) if tops else _ANY


def _binary_bounds(ctx: LintContext, node: BinaryExpr) -> Bounds:
    if node.op in COMPARISON_OPS:
        if node.bool_modifier:
            return (0.0, 1.0)
        # A filtering comparison keeps the vector side's samples: `0 < rate(x[5m])` is rate.
        if value_type(node.lhs) is ValueType.SCALAR and value_type(node.rhs) is ValueType.VECTOR:
            return bounds(ctx, node.rhs)
        return bounds(ctx, node.lhs)
    if node.op in ("and", "unless"):
        return bounds(ctx, node.lhs)
    a, b = bounds(ctx, node.lhs), bounds(ctx, node.rhs)
    if node.op == "or":
        return (min(a[0], b[0]), max(a[1], b[1]))
    if node.op == "+":
        return (a[0] + b[0], a[1] + b[1])
    if node.op == "-":
        return (a[0] - b[1], a[1] - b[0])
    if node.op in ("*", "/") and a[0] >= 0 and b[0] >= 0:
        return _NON_NEGATIVE
    return _ANY


def _never_true(op: str, left: Bounds, right: Bounds) -> bool:
    if any(math.isnan(v) for v in (*left, *right)):
        return False
    if op == ">":
        return left[1] <= right[0]
    if op == ">=":
        return left[1] < right[0]
    if op == "<":
        return left[0] >= right[1]
    if op == "<=":
        return left[0] > right[1]
    if op == "==":
        return left[1] < right[0] or left[0] > right[1]
    return False


def _filters(ctx: LintContext, node: Expr) -> bool:
    """Can the expression return fewer series than its inputs (a real condition)?

    Reading a recorded metric whose recording rule filters counts too. Each recorded name is
    followed once: following every occurrence was exponential (`(r + r) + (r + r)` recording
    r took minutes), and a chain of any length or a cycle ends.
    """
    followed: set[str] = set()
    pending = [node]
    while pending:
        for sub in walk(pending.pop()):
            if isinstance(sub, VectorSelector) and sub.name and sub.name not in followed:
                followed.add(sub.name)
                trees = (ctx.tree(recorder) for recorder in ctx.recording_rules(sub.name))
                pending.extend(tree for tree in trees if tree is not None)
            if isinstance(sub, BinaryExpr):
                if sub.op in COMPARISON_OPS and not sub.bool_modifier:
                    return True
                if sub.op in ("and", "unless"):
                    return True
            if isinstance(sub, Call) and sub.func in ("absent", "absent_over_time"):
                return True
    return False


def _show(bound: Bounds) -> str:
    return f"{bound[0]:g}" if bound[0] == bound[1] else f"{bound[0]:g}..{bound[1]:g}"


def run(ctx: LintContext) -> Iterator[Finding]:
    for rule in ctx.alerts():
        walked = ctx.expression(rule).walk
        if walked is None:
            continue
        if not _filters(ctx, walked.tree) and not ctx.always_fires(rule):
            yield ctx.finding(
                rule,
                CHECK.name,
                "the expression has no condition (comparison, and/unless, absent), so the "
                "alert fires for every series, all the time",
                line=rule.line_of("expr"),
            )
        for visit in walked.of_kind(BinaryExpr):
            node = visit.node
            if not isinstance(node, BinaryExpr) or node.op not in COMPARISON_OPS:
                continue
            left, right = bounds(ctx, node.lhs), bounds(ctx, node.rhs)
            if _never_true(node.op, left, right):
                yield ctx.finding(
                    rule,
                    CHECK.name,
                    f"comparison '{node.op}' can never be true: the left side is always "
                    f"{_show(left)}, the right side {_show(right)}",
                    line=ctx.expr_line(rule, node.pos),
                )


CHECK = Check("alert/comparison", "alerts have a condition that can be true", run)
