"""``promql/histogram``: ``histogram_quantile`` over ``_bucket`` rates that keep ``le``.

``sum by (service) (rate(x_bucket[...]))`` drops ``le`` and the quantile comes back empty;
a quantile over ``_sum``/``_count`` or a gauge is meaningless; over raw buckets it is the
quantile since the process started, not of the time shown.

Native histograms (``histogram_quantile(0.9, sum(rate(x_seconds[5m])))``) have no ``le``
and no ``_bucket`` series: ``le`` is required only when the buckets are ``_bucket`` series.
Only the selectors that supply the values are judged: in
``rate(x_bucket[5m]) * on (instance) group_left () up`` the ``up`` side only filters.
"""

from __future__ import annotations

from collections.abc import Iterator

from acgs_dashboards.lint.base import Check, Context, Issue
from acgs_dashboards.lint.queries import Query, dashboard_queries
from acgs_dashboards.model import Dashboard
from acgs_rules.model import Severity
from acgs_rules.promql import (
    AggregateExpr,
    BinaryExpr,
    Call,
    Expr,
    MatrixSelector,
    NumberLiteral,
    ParenExpr,
    SelectorUse,
    SubqueryExpr,
    UnaryExpr,
    ValueType,
    analyze,
    output_labels,
    value_type,
    walk,
)


def _issue(query: Query, severity: Severity, message: str) -> Issue:
    return Issue(severity, message, panel=query.panel, target=query.target)


def _value_side(node: Expr) -> list[Expr]:
    """The sub-expressions whose sample values reach the result of ``node``.

    ``a and b``, ``a unless b`` and ``a * on (...) group_left (...) b`` take their values
    from ``a`` (``b`` filters or lends labels); ``group_right`` from ``b``; other binary
    operators from both sides.
    """
    if isinstance(node, ParenExpr | UnaryExpr | SubqueryExpr):
        return _value_side(node.expr)
    if isinstance(node, MatrixSelector):
        return [node.vector]
    if isinstance(node, AggregateExpr):
        return _value_side(node.expr)
    if isinstance(node, Call):
        vectors = [a for a in node.args if value_type(a) in (ValueType.VECTOR, ValueType.MATRIX)]
        return [leaf for arg in vectors[:1] for leaf in _value_side(arg)]
    if isinstance(node, BinaryExpr):
        card = node.matching.card if node.matching is not None else None
        if node.op in ("and", "unless") or card == "many-to-one":
            return _value_side(node.lhs)
        if card == "one-to-many":
            return _value_side(node.rhs)
        return [*_value_side(node.lhs), *_value_side(node.rhs)]
    return [node]


def _value_selectors(buckets: Expr) -> list[SelectorUse]:
    uses = analyze(buckets).selectors
    leaves = {id(leaf) for leaf in _value_side(buckets)}
    return [use for use in uses if id(use.selector) in leaves]


def check(dashboard: Dashboard, ctx: Context) -> Iterator[Issue]:
    for query in dashboard_queries(dashboard, ctx):
        if query.tree is None:
            continue
        for node in walk(query.tree):
            if not isinstance(node, Call) or node.func != "histogram_quantile":
                continue
            phi, buckets = node.args
            if isinstance(phi, NumberLiteral) and not 0 <= phi.value <= 1:
                yield _issue(query, Severity.ERROR, f"quantile {phi.value:g} is outside 0..1")
            values = _value_selectors(buckets)
            classic = any("_bucket" in (use.name or "") for use in values)
            for use in values:
                name = use.name
                if name is None:
                    continue
                info = ctx.index.get(name)
                if "_bucket" in name:
                    if use.function is None:
                        yield _issue(
                            query,
                            Severity.WARNING,
                            f"histogram_quantile over raw {name}: buckets count since the "
                            f"process started; use rate({name}[$__rate_interval])",
                        )
                    continue
                if classic or info is None or info.source == "recording rule":
                    continue
                if info.type == "histogram" and info.spec is None:
                    continue  # a native histogram: no _bucket series
                hint = ""
                if info.family and ctx.index.get(f"{info.family}_bucket"):
                    hint = f"; use {info.family}_bucket"
                yield _issue(
                    query,
                    Severity.ERROR,
                    f"histogram_quantile over {name}, which is not a _bucket series{hint}",
                )
            if classic and output_labels(buckets).has("le") is False:
                yield _issue(
                    query,
                    Severity.ERROR,
                    "histogram_quantile needs the 'le' label, but the query aggregates it "
                    "away: keep it, e.g. sum by (le, service) (rate(x_bucket[$__rate_interval]))",
                )


CHECK = Check(
    "promql/histogram", "histogram_quantile over _bucket rates that keep le", per_dashboard=check
)
