"""The PromQL syntax tree: frozen node classes, their types, and plain traversal.

Every node has ``pos``, the 0-based character offset in the text it was parsed from.
Nodes: :class:`NumberLiteral`, :class:`StringLiteral`, :class:`VectorSelector` (``name``,
``matchers``, ``offset``, ``at``), :class:`MatrixSelector` (``vector``, ``range``),
:class:`SubqueryExpr`, :class:`Call`, :class:`AggregateExpr`, :class:`BinaryExpr` (``op``,
``lhs``, ``rhs``, ``bool_modifier``, ``matching``), :class:`UnaryExpr`, :class:`ParenExpr`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from acgs_promql.language import FUNCTIONS, ValueType

__all__ = [
    "AggregateExpr",
    "BinaryExpr",
    "Call",
    "Expr",
    "Matcher",
    "MatrixSelector",
    "NumberLiteral",
    "ParenExpr",
    "StringLiteral",
    "SubqueryExpr",
    "UnaryExpr",
    "VectorMatching",
    "VectorSelector",
    "children",
    "depth",
    "value_type",
    "walk",
]


@dataclass(frozen=True)
class Expr:
    pos: int


@dataclass(frozen=True)
class NumberLiteral(Expr):
    value: float


@dataclass(frozen=True)
class StringLiteral(Expr):
    value: str


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str  # one of = != =~ !~
    value: str

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"')
        return f'{self.name}{self.op}"{escaped}"'

    def matches(self, value: str) -> bool:
        if self.op == "=":
            return value == self.value
        if self.op == "!=":
            return value != self.value
        try:
            hit = re.fullmatch(self.value, value) is not None
        except re.error:
            return True  # RE2 syntax Python does not know: assume it may match
        return hit if self.op == "=~" else not hit


@dataclass(frozen=True)
class VectorSelector(Expr):
    name: str | None
    matchers: tuple[Matcher, ...] = ()
    offset: float | None = None
    at: str | None = None  # a number, "start()" or "end()"

    def label_matchers(self) -> tuple[Matcher, ...]:
        """Matchers other than the metric name."""
        return tuple(m for m in self.matchers if m.name != "__name__")


@dataclass(frozen=True)
class MatrixSelector(Expr):
    vector: VectorSelector
    range: float


@dataclass(frozen=True)
class SubqueryExpr(Expr):
    expr: Expr
    range: float
    step: float | None = None
    offset: float | None = None
    at: str | None = None


@dataclass(frozen=True)
class Call(Expr):
    func: str
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class AggregateExpr(Expr):
    op: str
    expr: Expr
    param: Expr | None = None
    grouping: tuple[str, ...] = ()
    without: bool = False
    has_grouping: bool = False  # a by/without clause was written (even if empty)


@dataclass(frozen=True)
class VectorMatching:
    card: str  # one-to-one, many-to-one, one-to-many, many-to-many (set operators)
    on: bool
    labels: tuple[str, ...]
    include: tuple[str, ...] = ()


@dataclass(frozen=True)
class BinaryExpr(Expr):
    op: str
    lhs: Expr
    rhs: Expr
    bool_modifier: bool = False
    matching: VectorMatching | None = None
    # Known when built, so long operator chains need no deep recursion to type.
    result_type: ValueType = ValueType.VECTOR


@dataclass(frozen=True)
class UnaryExpr(Expr):
    op: str
    expr: Expr


@dataclass(frozen=True)
class ParenExpr(Expr):
    expr: Expr


def value_type(expr: Expr) -> ValueType:
    """The type of value an expression evaluates to."""
    if isinstance(expr, NumberLiteral):
        return ValueType.SCALAR
    if isinstance(expr, StringLiteral):
        return ValueType.STRING
    if isinstance(expr, VectorSelector | AggregateExpr):
        return ValueType.VECTOR
    if isinstance(expr, MatrixSelector | SubqueryExpr):
        return ValueType.MATRIX
    if isinstance(expr, Call):
        return FUNCTIONS[expr.func].returns
    if isinstance(expr, ParenExpr | UnaryExpr):
        return value_type(expr.expr)
    if isinstance(expr, BinaryExpr):
        return expr.result_type
    raise TypeError(f"not a PromQL node: {expr!r}")


def children(node: Expr) -> tuple[Expr, ...]:
    """The node's direct sub-expressions, left to right."""
    if isinstance(node, MatrixSelector):
        return (node.vector,)
    if isinstance(node, SubqueryExpr | ParenExpr | UnaryExpr):
        return (node.expr,)
    if isinstance(node, Call):
        return node.args
    if isinstance(node, AggregateExpr):
        return (node.param, node.expr) if node.param is not None else (node.expr,)
    if isinstance(node, BinaryExpr):
        return (node.lhs, node.rhs)
    return ()


def walk(expr: Expr) -> Iterator[Expr]:
    """Every node of the tree, parents before children, left to right."""
    stack = [expr]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(children(node)))


def depth(tree: Expr) -> int:
    """Levels of the tree (a lone selector is 1), without recursion."""
    deepest = 0
    stack = [(tree, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children(node))
    return deepest
