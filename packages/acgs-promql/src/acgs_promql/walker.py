"""One walk over a syntax tree that records, for every node, where it sits.

``Walk(tree)`` visits the tree once, parents before children, left to right. Each
:class:`Visit` carries the node's context: its parent, the innermost function applied to it
(through ranges, subqueries and parentheses), the window of the ``[range]`` or subquery
around it, the aggregations above it, and whether its sample values reach the result or
only filter it or lend it labels (``b`` in ``a and b`` or ``a * on (x) group_left () b``).
Checks subscribe to node kinds (:meth:`Walk.of_kind`) and look below a node with
:meth:`Walk.below` instead of walking again.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from acgs_promql.language import ValueType
from acgs_promql.tree import (
    AggregateExpr,
    BinaryExpr,
    Call,
    Expr,
    MatrixSelector,
    ParenExpr,
    SubqueryExpr,
    UnaryExpr,
    value_type,
)

__all__ = ["Visit", "Walk"]


@dataclass(slots=True, eq=False)
class Visit:
    """One node of a walked tree and its context."""

    node: Expr
    parent: Visit | None
    depth: int  # 0 for the root
    function: str | None  # innermost function applied (through ranges, subqueries, parens)
    window: float | None  # seconds of the [range] or subquery around it
    aggregations: tuple[str, ...]  # aggregation operators above it, innermost first
    # Depth of the deepest ancestor to which this node only lends labels or filters (-1: none).
    filtered_at: int
    index: int  # position in the walk (pre-order)
    end: int = 0  # position just after its last descendant

    def ancestors(self) -> Iterator[Visit]:
        """Parent first, root last."""
        visit = self.parent
        while visit is not None:
            yield visit
            visit = visit.parent

    def supplies_values_to(self, ancestor: Visit) -> bool:
        """True when this node's sample values reach ``ancestor``'s result (an ancestor of it)."""
        return self.filtered_at < ancestor.depth

    @property
    def on_value_side(self) -> bool:
        """True when this node's sample values reach the expression's result."""
        return self.filtered_at < 0


def _first_vector_argument(call: Call) -> int:
    """Index of the argument a function takes its values from (-1: none)."""
    for index, arg in enumerate(call.args):
        if value_type(arg) in (ValueType.VECTOR, ValueType.MATRIX):
            return index
    return -1


def _value_sides(node: BinaryExpr) -> tuple[bool, bool]:
    """Which operands supply the sample values: ``and``/``unless``/``group_left`` take them
    from the left, ``group_right`` from the right, the others from both."""
    card = node.matching.card if node.matching is not None else None
    if node.op in ("and", "unless") or card == "many-to-one":
        return True, False
    if card == "one-to-many":
        return False, True
    return True, True


class Walk:
    """Every node of ``tree`` once, in pre-order, each with its :class:`Visit` context."""

    def __init__(self, tree: Expr) -> None:
        self.tree = tree
        self.visits: list[Visit] = []
        self._by_kind: dict[type[Expr], list[Visit]] = {}
        self._add(tree, None, None, None, (), -1)

    @property
    def root(self) -> Visit:
        return self.visits[0]

    def of_kind(self, kind: type[Expr]) -> list[Visit]:
        """The visits of nodes of exactly this class, in walk order."""
        return self._by_kind.get(kind, [])

    def below(self, visit: Visit) -> list[Visit]:
        """The visits of every descendant of ``visit``'s node, in walk order."""
        return self.visits[visit.index + 1 : visit.end]

    def subtree(self, visit: Visit, child: Expr) -> list[Visit]:
        """The visits of ``child`` (a child of ``visit``'s node) and of its descendants."""
        index = visit.index + 1
        while index < visit.end:
            candidate = self.visits[index]
            if candidate.node is child:
                return self.visits[index : candidate.end]
            index = candidate.end
        return []

    def _add(
        self,
        node: Expr,
        parent: Visit | None,
        function: str | None,
        window: float | None,
        aggregations: tuple[str, ...],
        filtered_at: int,
    ) -> None:
        depth = parent.depth + 1 if parent is not None else 0
        visit = Visit(
            node, parent, depth, function, window, aggregations, filtered_at, len(self.visits)
        )
        self.visits.append(visit)
        self._by_kind.setdefault(type(node), []).append(visit)
        if isinstance(node, MatrixSelector):
            self._add(node.vector, visit, function, node.range, aggregations, filtered_at)
        elif isinstance(node, SubqueryExpr):
            self._add(node.expr, visit, function, node.range, aggregations, filtered_at)
        elif isinstance(node, ParenExpr | UnaryExpr):
            self._add(node.expr, visit, function, window, aggregations, filtered_at)
        elif isinstance(node, Call):
            values = _first_vector_argument(node)
            for index, arg in enumerate(node.args):
                side = filtered_at if index == values else depth
                self._add(arg, visit, node.func, None, aggregations, side)
        elif isinstance(node, AggregateExpr):
            if node.param is not None:
                self._add(node.param, visit, None, None, aggregations, depth)
            self._add(node.expr, visit, None, None, (node.op, *aggregations), filtered_at)
        elif isinstance(node, BinaryExpr):
            left, right = _value_sides(node)
            self._add(node.lhs, visit, None, None, aggregations, filtered_at if left else depth)
            self._add(node.rhs, visit, None, None, aggregations, filtered_at if right else depth)
        visit.end = len(self.visits)
