"""``panel/unit-fit``: the panel's unit fits what its queries return.

The dimension of a query is worked out from its metrics' units (catalog unit, else the
name's suffix: ``_seconds``, ``_bytes``, ``_ratio``) through the functions applied:
``histogram_quantile`` over seconds buckets is seconds, ``rate`` of a bytes counter is
bytes per second, a ratio of two like quantities is a ratio. A panel in ``bytes`` over
seconds, or a ratio without ``percentunit``, gets a warning. When a query's dimension is
not clear (most arithmetic), nothing is said.
"""

from __future__ import annotations

from collections.abc import Iterator

from acgs_dashboards.lint.base import Check, Context, Issue
from acgs_dashboards.lint.checks.panel_basics import UNIT_PANELS, panel_unit
from acgs_dashboards.lint.queries import dashboard_queries
from acgs_dashboards.model import Dashboard, Panel
from acgs_promql.findings import Severity
from acgs_promql.index import MetricIndex
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
    walk,
)

TIME, BYTES, BYTE_RATE, RATIO = "time", "bytes", "bytes/s", "ratio"
UNITS = {
    TIME: {
        "s", "ms", "µs", "ns", "m", "h", "d", "dtdurations", "dtdurationms", "dthms",
        "dtdhms", "clocks", "clockms", "timeticks",
    },
    BYTES: {
        "bytes", "decbytes", "bits", "decbits", "kbytes", "mbytes", "gbytes", "tbytes",
        "pbytes", "deckbytes", "decmbytes", "decgbytes", "dectbytes", "decpbytes",
    },
    BYTE_RATE: {
        "Bps", "binBps", "KBs", "MBs", "GBs", "TBs", "PBs", "KiBs", "MiBs", "GiBs", "TiBs",
        "PiBs", "bps", "binbps", "Kbits", "Mbits", "Gbits", "Tbits", "Pbits",
    },
    RATIO: {"percentunit", "percent"},
}  # fmt: skip
SUGGESTED = {TIME: "s", BYTES: "bytes", BYTE_RATE: "Bps", RATIO: "percentunit"}
# Functions that keep their argument's unit.
_SAME = {
    "abs", "ceil", "floor", "round", "clamp", "clamp_min", "clamp_max", "avg_over_time",
    "min_over_time", "max_over_time", "last_over_time", "quantile_over_time", "sort",
    "sort_desc", "label_replace", "label_join",
}  # fmt: skip
_SAME_AGGREGATIONS = {"sum", "avg", "min", "max", "topk", "bottomk", "quantile"}
_RATES = {"rate", "irate"}


def _metric_dimension(name: str, index: MetricIndex) -> str | None:
    info = index.get(name)
    if info is not None and info.spec is not None:
        unit = info.spec.unit.value
        stem = name
    else:
        stem = name.removesuffix("_total").removesuffix("_bucket")
        stem = stem.removesuffix("_sum").removesuffix("_count")
        unit = next((u for u in ("seconds", "bytes", "ratio") if stem.endswith(f"_{u}")), "")
    if name.endswith("_count"):
        return None  # a number of observations, whatever the family measures
    return {"seconds": TIME, "bytes": BYTES, "ratio": RATIO}.get(unit) if stem else None


def dimension(node: Expr, index: MetricIndex) -> str | None:
    """The dimension of what ``node`` returns, or None when it is not clear."""
    if isinstance(node, ParenExpr | UnaryExpr):
        return dimension(node.expr, index)
    if isinstance(node, VectorSelector):
        if node.name is None or index.is_counter(node.name):
            return None  # raw counters: promql/counter speaks about them
        return _metric_dimension(node.name, index)
    if isinstance(node, MatrixSelector | SubqueryExpr):
        return None
    if isinstance(node, AggregateExpr):
        return dimension(node.expr, index) if node.op in _SAME_AGGREGATIONS else None
    if isinstance(node, Call):
        if node.func == "histogram_quantile":
            inner = node.args[1]
            names = _selector_names(inner)
            dims = {_metric_dimension(n, index) for n in names}
            return dims.pop() if len(dims) == 1 else None
        if node.func in _RATES or node.func == "increase":
            names = _selector_names(node.args[0])
            dims = {_metric_dimension(n, index) for n in names}
            unit = dims.pop() if len(dims) == 1 else None
            if node.func == "increase":
                return unit
            return {TIME: RATIO, BYTES: BYTE_RATE}.get(unit or "")
        if node.func in _SAME and node.args:
            return dimension(node.args[0], index)
        return None
    if isinstance(node, BinaryExpr):
        left, right = dimension(node.lhs, index), dimension(node.rhs, index)
        scalar_left = isinstance(_unwrap(node.lhs), NumberLiteral)
        scalar_right = isinstance(_unwrap(node.rhs), NumberLiteral)
        if node.op == "/" and left is not None and left == right:
            return RATIO
        if node.op == "/" and _same_metrics(node.lhs, node.rhs):
            return RATIO  # a part over its whole: errors / requests
        if node.op == "/" and _rate_pair(node.lhs, node.rhs, index):
            return _rate_pair(node.lhs, node.rhs, index)
        if node.op in {"+", "-"} and (left == right or scalar_left or scalar_right):
            return left or right
        if node.op in {"*", "/"} and scalar_right and not scalar_left:
            number = _unwrap(node.rhs)
            assert isinstance(number, NumberLiteral)
            return None if number.value not in (1, 1.0) else left
        return None
    return None


def _unwrap(node: Expr) -> Expr:
    while isinstance(node, ParenExpr):
        node = node.expr
    return node


def _selector_names(node: Expr) -> list[str]:
    return [n.name for n in walk(node) if isinstance(n, VectorSelector) and n.name]


def _same_metrics(lhs: Expr, rhs: Expr) -> bool:
    top, bottom = set(_selector_names(lhs)), set(_selector_names(rhs))
    return bool(top) and top == bottom


def _rate_pair(lhs: Expr, rhs: Expr, index: MetricIndex) -> str | None:
    """rate(x_sum) / rate(x_count): the mean, in x's unit."""
    top, bottom = _selector_names(lhs), _selector_names(rhs)
    if len(top) == 1 and len(bottom) == 1 and top[0].endswith("_sum"):
        family = top[0].removesuffix("_sum")
        if bottom[0] == f"{family}_count":
            return _metric_dimension(top[0], index)
    return None


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


def _has_unit_overrides(panel: Panel) -> bool:
    return any(
        prop.get("id") == "unit"
        for override in panel.overrides
        for prop in _list(override.get("properties"))
        if isinstance(prop, dict)
    )


def check(dashboard: Dashboard, ctx: Context) -> Iterator[Issue]:
    by_panel: dict[int, set[str | None]] = {}
    panels: dict[int, Panel] = {}
    for query in dashboard_queries(dashboard, ctx):
        tree = query.expression.tree
        if query.panel is None or tree is None or query.target is None:
            continue
        if query.target.hidden:
            continue
        panels[id(query.panel)] = query.panel
        by_panel.setdefault(id(query.panel), set()).add(dimension(tree, ctx.index))
    for key, dims in by_panel.items():
        panel = panels[key]
        if panel.type not in UNIT_PANELS or len(dims) != 1 or _has_unit_overrides(panel):
            continue
        (dim,) = dims
        unit = panel_unit(panel)
        if dim is None or unit is None:
            continue
        fits = UNITS[dim]
        if unit in fits:
            continue
        known_elsewhere = any(unit in units for units in UNITS.values())
        if known_elsewhere or dim == RATIO or unit in {"short", "none", ""}:
            yield Issue(
                Severity.WARNING,
                f"the queries return {dim} but the panel's unit is {unit!r}; use "
                f"{SUGGESTED[dim]!r}",
                panel=panel,
            )


CHECK = Check("panel/unit-fit", "the panel's unit fits its queries", per_dashboard=check)
