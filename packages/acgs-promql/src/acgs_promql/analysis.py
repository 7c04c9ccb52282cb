"""What an expression uses, in source order: selectors, functions, aggregations, ranges.

``analyze(text_or_tree) -> Analysis``: ``selectors`` (each a :class:`SelectorUse` with
``name``, ``matchers``, ``range_seconds`` when inside a range or subquery, ``function`` the
innermost function applied to it), ``metric_names``, ``functions`` (:class:`FunctionUse`),
``aggregations`` (:class:`AggregationUse` with ``op``, ``grouping``, ``without``), ``ranges``
(:class:`RangeUse`: seconds, ``"range"`` or ``"subquery"``), ``label_names`` (every label
name written in a matcher, grouping or matching clause) and ``has_comparison``.
It is read off one :class:`~acgs_promql.walker.Walk`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from acgs_promql.language import COMPARISON_OPS
from acgs_promql.parser import parse
from acgs_promql.tree import (
    AggregateExpr,
    BinaryExpr,
    Call,
    Expr,
    Matcher,
    MatrixSelector,
    SubqueryExpr,
    VectorSelector,
)
from acgs_promql.walker import Walk

__all__ = [
    "AggregationUse",
    "Analysis",
    "FunctionUse",
    "RangeUse",
    "SelectorUse",
    "analyze",
]


@dataclass(frozen=True)
class SelectorUse:
    """One vector selector and where it sits."""

    selector: VectorSelector
    range_seconds: float | None  # the [range] or enclosing subquery's range
    function: str | None  # innermost function applied to it (through ranges/subqueries)
    aggregations: tuple[str, ...]  # aggregation operators above it, innermost first

    @property
    def name(self) -> str | None:
        return self.selector.name

    @property
    def matchers(self) -> tuple[Matcher, ...]:
        return self.selector.label_matchers()

    @property
    def pos(self) -> int:
        return self.selector.pos


@dataclass(frozen=True)
class FunctionUse:
    name: str
    pos: int
    call: Call


@dataclass(frozen=True)
class AggregationUse:
    op: str
    grouping: tuple[str, ...]
    without: bool
    pos: int
    node: AggregateExpr


@dataclass(frozen=True)
class RangeUse:
    seconds: float
    kind: str  # "range" or "subquery"
    pos: int
    step: float | None = None


@dataclass
class Analysis:
    """What an expression uses; see the module docstring."""

    expr: Expr
    selectors: list[SelectorUse] = field(default_factory=list)
    functions: list[FunctionUse] = field(default_factory=list)
    aggregations: list[AggregationUse] = field(default_factory=list)
    ranges: list[RangeUse] = field(default_factory=list)
    label_names: set[str] = field(default_factory=set)
    has_comparison: bool = False

    @property
    def metric_names(self) -> set[str]:
        return {s.name for s in self.selectors if s.name is not None}

    @classmethod
    def of(cls, walk: Walk) -> Analysis:
        """The analysis of an already walked tree."""
        result = cls(walk.tree)
        for visit in walk.visits:
            node = visit.node
            if isinstance(node, VectorSelector):
                result.selectors.append(
                    SelectorUse(node, visit.window, visit.function, visit.aggregations)
                )
                result.label_names.update(m.name for m in node.label_matchers())
            elif isinstance(node, MatrixSelector):
                result.ranges.append(RangeUse(node.range, "range", node.pos))
            elif isinstance(node, SubqueryExpr):
                result.ranges.append(RangeUse(node.range, "subquery", node.pos, node.step))
            elif isinstance(node, Call):
                result.functions.append(FunctionUse(node.func, node.pos, node))
            elif isinstance(node, AggregateExpr):
                result.aggregations.append(
                    AggregationUse(node.op, node.grouping, node.without, node.pos, node)
                )
                result.label_names.update(node.grouping)
            elif isinstance(node, BinaryExpr):
                result.has_comparison |= node.op in COMPARISON_OPS
                if node.matching is not None:
                    result.label_names.update(node.matching.labels + node.matching.include)
        return result


def analyze(expr: str | Expr) -> Analysis:
    """Parse (if given text) and collect what the expression uses."""
    return Analysis.of(Walk(parse(expr) if isinstance(expr, str) else expr))
