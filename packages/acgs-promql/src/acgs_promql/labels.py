"""Label analysis: which labels the series an expression returns can carry.

``output_labels(expr, resolve=None)`` gives a :class:`LabelSet`; ``LabelSet.has(name)`` answers
True (kept for sure), False (removed for sure) or None (depends on the data). ``resolve``
knows the labels of some selected series (a recorded metric's are its recording
expression's, see :meth:`acgs_promql.index.MetricIndex.selector_labels`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from acgs_promql.language import FUNCTIONS, LABEL_ADDERS, ValueType
from acgs_promql.tree import (
    AggregateExpr,
    BinaryExpr,
    Call,
    Expr,
    MatrixSelector,
    NumberLiteral,
    ParenExpr,
    StringLiteral,
    SubqueryExpr,
    UnaryExpr,
    VectorSelector,
    value_type,
)

__all__ = ["LabelSet", "SelectorLabels", "merge_label_sets", "output_labels"]

_S, _V, _M = ValueType.SCALAR, ValueType.VECTOR, ValueType.MATRIX


@dataclass(frozen=True)
class LabelSet:
    """The labels a result series can carry.

    ``closed``: the result carries at most ``known``; otherwise it carries the input's labels
    (unknown here) plus ``known``, minus ``removed``.
    """

    closed: bool
    known: frozenset[str] = frozenset()
    removed: frozenset[str] = frozenset()

    def has(self, name: str) -> bool | None:
        """True: always present; False: never; None: depends on the input series."""
        if name in self.removed:
            return False
        if self.closed:
            return None if name in self.known else False
        return True if name in self.known else None

    def keep(self, names: tuple[str, ...]) -> LabelSet:
        kept = frozenset(names) - self.removed
        if self.closed:
            kept &= self.known
        return LabelSet(True, kept)

    def drop(self, names: tuple[str, ...] | frozenset[str]) -> LabelSet:
        gone = frozenset(names)
        return LabelSet(self.closed, self.known - gone, self.removed | gone)

    def add(self, names: tuple[str, ...] | frozenset[str]) -> LabelSet:
        new = frozenset(names)
        return LabelSet(self.closed, self.known | new, self.removed - new)


_OPEN = LabelSet(False)
_EMPTY = LabelSet(True)


# Labels of the series a selector reads when known (a recorded metric), else None.
SelectorLabels = Callable[["VectorSelector"], "LabelSet | None"]


def merge_label_sets(sets: Iterable[LabelSet]) -> LabelSet:
    """Labels of series that come from any one of ``sets`` (as ``or`` does)."""
    items = list(sets)
    if not items:
        return _OPEN
    if all(item.closed for item in items):
        return LabelSet(True, frozenset().union(*(item.known for item in items)))
    known = frozenset.intersection(*(item.known for item in items))
    removed = frozenset.intersection(*(item.removed for item in items))
    return LabelSet(False, known, removed)


def output_labels(expr: Expr, resolve: SelectorLabels | None = None) -> LabelSet:
    """Which labels the series of ``expr`` can carry (``__name__`` aside).

    ``resolve`` knows the labels of some selected series (a recorded metric's are those of
    its recording expression); without it a selector carries whatever was scraped.
    """
    if isinstance(expr, NumberLiteral | StringLiteral):
        return _EMPTY
    if isinstance(expr, VectorSelector):
        equal = frozenset(m.name for m in expr.label_matchers() if m.op == "=" and m.value)
        known = resolve(expr) if resolve is not None else None
        return LabelSet(False, equal) if known is None else known.add(equal)
    if isinstance(expr, MatrixSelector):
        return output_labels(expr.vector, resolve)
    if isinstance(expr, SubqueryExpr | ParenExpr | UnaryExpr):
        return output_labels(expr.expr, resolve)
    if isinstance(expr, AggregateExpr):
        inner = output_labels(expr.expr, resolve)
        if expr.op in ("topk", "bottomk", "limitk", "limit_ratio"):
            return inner
        result = inner.drop(expr.grouping) if expr.without else inner.keep(expr.grouping)
        if expr.op == "count_values" and isinstance(expr.param, StringLiteral):
            result = result.add((expr.param.value,))
        return result
    if isinstance(expr, Call):
        return _call_labels(expr, resolve)
    if isinstance(expr, BinaryExpr):
        return _binary_labels(expr, resolve)
    raise TypeError(f"not a PromQL node: {expr!r}")


def _call_labels(call: Call, resolve: SelectorLabels | None) -> LabelSet:
    func = FUNCTIONS[call.func]
    if func.returns is _S or call.func in ("vector", "time", "pi"):
        return _EMPTY
    if call.func == "absent" or call.func == "absent_over_time":
        target = call.args[0]
        if isinstance(target, MatrixSelector):
            target = target.vector
        if isinstance(target, VectorSelector):
            names = frozenset(m.name for m in target.label_matchers() if m.op == "=")
            return LabelSet(True, names)
        return _EMPTY
    vector_args = [a for a in call.args if value_type(a) in (_V, _M)]
    if not vector_args:
        return _EMPTY
    result = output_labels(vector_args[0], resolve)
    if call.func in ("histogram_quantile", "histogram_fraction"):
        result = result.drop(("le",))
    if call.func in LABEL_ADDERS and isinstance(call.args[1], StringLiteral):
        result = result.add((call.args[1].value,))
    return result


def _binary_labels(expr: BinaryExpr, resolve: SelectorLabels | None) -> LabelSet:
    lt, rt = value_type(expr.lhs), value_type(expr.rhs)
    if lt is _S and rt is _S:
        return _EMPTY
    if lt is _S:
        return output_labels(expr.rhs, resolve)
    if rt is _S:
        return output_labels(expr.lhs, resolve)
    left, right = output_labels(expr.lhs, resolve), output_labels(expr.rhs, resolve)
    matching = expr.matching
    if expr.op == "or":
        return merge_label_sets((left, right))
    if expr.op in ("and", "unless") or matching is None:
        return left
    if matching.card == "one-to-many":
        base, other = right, left
    else:
        base, other = left, right
    if matching.card == "one-to-one":
        return base.keep(matching.labels) if matching.on else base.drop(matching.labels)
    included = LabelSet(base.closed, base.known, base.removed - frozenset(matching.include))
    for name in matching.include:
        if other.has(name) is True:
            included = included.add((name,))
    return included
