"""The PromQL parser: text to a typed syntax tree, rejecting what Prometheus 2.42 rejects.

``parse(text)`` raises :class:`~acgs_promql.lexer.PromQLError` (message, position, line,
column) for anything Prometheus would reject at parse time: bad tokens, grammar, unknown
functions, wrong argument counts or types (``rate(foo)``), ``bool`` on a non-comparison, set
operators between scalars.

Conformance: the tests check a corpus and thousands of mutated expressions against the real
``promtool``. Regular expressions are only rejected for structural errors (Prometheus uses
RE2, not Python's ``re``). Expressions nested deeper than ``MAX_NESTING`` parentheses or
``MAX_TREE_DEPTH`` levels are rejected with a PromQLError rather than exhausting the stack,
and so are expressions longer than ``MAX_LENGTH`` characters, before any work on them.
"""

from __future__ import annotations

import math
import re

from acgs_promql.durations import parse_duration
from acgs_promql.language import (
    AGGREGATORS,
    COMPARISON_OPS,
    FUNCTIONS,
    KEYWORDS,
    MATCHING_KEYWORDS,
    PRECEDENCE,
    SET_OPS,
    ValueType,
    type_name,
)
from acgs_promql.lexer import PromQLError, Token, tokenize
from acgs_promql.tree import (
    AggregateExpr,
    BinaryExpr,
    Call,
    Expr,
    Matcher,
    MatrixSelector,
    NumberLiteral,
    ParenExpr,
    StringLiteral,
    SubqueryExpr,
    UnaryExpr,
    VectorMatching,
    VectorSelector,
    depth,
    value_type,
)

__all__ = ["MAX_LENGTH", "MAX_NESTING", "MAX_TREE_DEPTH", "parse"]

_S, _V = ValueType.SCALAR, ValueType.VECTOR

# Deeper nesting than any real rule, shallow enough for Python's recursion limit.
MAX_NESTING = 100
# 100 times the longest real rule or panel query seen (kube-prometheus: ~1,000 characters);
# a chain of operators this long still parses in about 2 s (1 MB took 19 s).
MAX_LENGTH = 100_000


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0

    # token helpers
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def peek(self, ahead: int = 1) -> Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def error(self, message: str, token: Token | None = None) -> PromQLError:
        token = token or self.tok
        return PromQLError(message, self.text, token.pos)

    def describe(self, token: Token) -> str:
        return "end of input" if token.kind == "eof" else repr(token.text)

    def advance(self) -> Token:
        token = self.tok
        self.i += 1
        return token

    def at(self, text: str) -> bool:
        token = self.tok
        if token.kind == "ident":  # keywords are case-insensitive
            return token.text.lower() == text if text in KEYWORDS else token.text == text
        return token.kind == "op" and token.text == text

    def expect(self, text: str, what: str = "") -> Token:
        if not self.at(text):
            context = f" {what}" if what else ""
            raise self.error(f"expected {text!r}{context}, found {self.describe(self.tok)}")
        return self.advance()

    # grammar
    def parse(self) -> Expr:
        if self.tok.kind == "eof":
            raise self.error("empty expression")
        expr = self.expression(0)
        if self.tok.kind != "eof":
            raise self.error(f"unexpected {self.describe(self.tok)} after a complete expression")
        return expr

    def binary_op(self) -> str | None:
        token = self.tok
        if token.kind == "op" and token.text in PRECEDENCE:
            return token.text
        if token.kind == "ident" and token.text.lower() in ("and", "or", "unless", "atan2"):
            return token.text.lower()
        return None

    def expression(self, min_prec: int) -> Expr:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise self.error(f"expression nested too deeply (more than {MAX_NESTING} levels)")
        try:
            return self._expression(min_prec)
        finally:
            self.depth -= 1

    def _expression(self, min_prec: int) -> Expr:
        lhs = self.unary()
        while True:
            op = self.binary_op()
            if op is None or PRECEDENCE[op] < min_prec:
                return lhs
            op_token = self.advance()
            bool_modifier = False
            if self.at("bool"):
                if op not in COMPARISON_OPS:
                    raise self.error("bool modifier can only be used on comparison operators")
                self.advance()
                bool_modifier = True
            matching = self.vector_matching(op)
            # ^ is right-associative, everything else left.
            next_min = PRECEDENCE[op] if op == "^" else PRECEDENCE[op] + 1
            rhs = self.expression(next_min)
            lhs = self.make_binary(op, op_token, lhs, rhs, bool_modifier, matching)

    def vector_matching(self, op: str) -> VectorMatching | None:
        if not (self.at("on") or self.at("ignoring")):
            if self.at("group_left") or self.at("group_right"):
                raise self.error("group_left/group_right need on(...) or ignoring(...) first")
            return None
        on = self.advance().text.lower() == "on"
        labels = self.label_list()
        card = "one-to-one"
        include: tuple[str, ...] = ()
        if self.at("group_left") or self.at("group_right"):
            token = self.advance()
            if op in SET_OPS:
                raise self.error(f"no grouping allowed for {op!r} operation", token)
            card = "many-to-one" if token.text.lower() == "group_left" else "one-to-many"
            if self.at("("):
                include = self.label_list()
        return VectorMatching(card, on, labels, include)

    def make_binary(
        self,
        op: str,
        token: Token,
        lhs: Expr,
        rhs: Expr,
        bool_modifier: bool,
        matching: VectorMatching | None,
    ) -> BinaryExpr:
        lt, rt = value_type(lhs), value_type(rhs)
        for side, kind in (("left", lt), ("right", rt)):
            if kind not in (_S, _V):
                raise self.error(
                    f"binary expression must contain only scalar and instant vector types "
                    f"({side} side of {op!r} is {type_name(kind)})",
                    token,
                )
        if op in SET_OPS and (lt is _S or rt is _S):
            raise self.error(f"set operator {op!r} not allowed in binary scalar expression", token)
        if op in COMPARISON_OPS and lt is _S and rt is _S and not bool_modifier:
            raise self.error("comparisons between scalars must use the bool modifier", token)
        if matching is not None and (lt is _S or rt is _S):
            raise self.error("vector matching only allowed between instant vectors", token)
        if matching is not None and matching.card != "one-to-one":
            overlap = set(matching.labels) & set(matching.include)
            if matching.on and overlap:
                raise self.error(
                    f"label {sorted(overlap)[0]!r} must not occur in on() and group clause", token
                )
        if op in SET_OPS and matching is None:
            matching = VectorMatching("many-to-many", False, ())
        kind = _S if lt is _S and rt is _S else _V
        return BinaryExpr(token.pos, op, lhs, rhs, bool_modifier, matching, kind)

    def unary(self) -> Expr:
        if self.tok.kind == "op" and self.tok.text in ("+", "-"):
            token = self.advance()
            self.depth += 1
            if self.depth > MAX_NESTING:
                raise self.error(f"expression nested too deeply (more than {MAX_NESTING} levels)")
            operand = self.unary_operand()
            self.depth -= 1
            if value_type(operand) not in (_S, _V):
                raise self.error("unary expression only allowed on scalars or instant vectors")
            if token.text == "-" and isinstance(operand, NumberLiteral):
                return NumberLiteral(token.pos, -operand.value)
            return UnaryExpr(token.pos, token.text, operand) if token.text == "-" else operand
        return self.postfix()

    def unary_operand(self) -> Expr:
        # -a^b is -(a^b): the power binds tighter than the sign.
        base = self.unary()
        if self.binary_op() == "^":
            token = self.advance()
            if self.at("bool"):
                raise self.error("bool modifier can only be used on comparison operators")
            matching = self.vector_matching("^")
            rhs = self.expression(PRECEDENCE["^"])
            return self.make_binary("^", token, base, rhs, False, matching)
        return base

    def postfix(self) -> Expr:
        expr = self.primary()
        while True:
            if self.at("["):
                expr = self.range_or_subquery(expr)
            elif self.at("offset"):
                expr = self.offset(expr)
            elif self.at("@"):
                expr = self.at_modifier(expr)
            else:
                return expr

    def duration(self, what: str) -> float:
        token = self.tok
        if token.kind != "duration":
            raise self.error(f"expected a duration {what}, found {self.describe(token)}")
        self.advance()
        try:
            return parse_duration(token.text)
        except ValueError as error:
            raise self.error(str(error), token) from None

    def range_or_subquery(self, expr: Expr) -> Expr:
        open_token = self.expect("[")
        window = self.duration("in [...]")
        if window <= 0:
            raise self.error("range must be greater than 0", open_token)
        if self.at(":"):
            self.advance()
            step = None
            if not self.at("]"):
                step_token = self.tok
                step = self.duration("as the subquery step")
                if step <= 0:
                    raise self.error("subquery step must be greater than 0", step_token)
            self.expect("]", "to close the subquery")
            if value_type(expr) is not _V:
                raise self.error(
                    f"subquery is only allowed on instant vectors, got "
                    f"{type_name(value_type(expr))}",
                    open_token,
                )
            return SubqueryExpr(expr.pos, expr, window, step)
        self.expect("]", "to close the range")
        if not isinstance(expr, VectorSelector):
            raise self.error(
                "ranges only allowed for vector selectors (use [range:step] for a subquery)",
                open_token,
            )
        if expr.offset is not None or expr.at is not None:
            raise self.error("the range goes before offset and @", open_token)
        return MatrixSelector(expr.pos, expr, window)

    def offset(self, expr: Expr) -> Expr:
        token = self.advance()
        sign = 1.0
        if self.tok.kind == "op" and self.tok.text in ("+", "-"):
            sign = -1.0 if self.advance().text == "-" else 1.0
        amount = sign * self.duration("after offset")
        target = expr.vector if isinstance(expr, MatrixSelector) else expr
        if isinstance(target, VectorSelector):
            if target.offset is not None:
                raise self.error("offset may not be set multiple times", token)
            new = VectorSelector(target.pos, target.name, target.matchers, amount, target.at)
            return (
                MatrixSelector(expr.pos, new, expr.range)
                if isinstance(expr, MatrixSelector)
                else new
            )
        if isinstance(expr, SubqueryExpr):
            if expr.offset is not None:
                raise self.error("offset may not be set multiple times", token)
            return SubqueryExpr(expr.pos, expr.expr, expr.range, expr.step, amount, expr.at)
        raise self.error("offset modifier must be preceded by a selector or subquery", token)

    def at_modifier(self, expr: Expr) -> Expr:
        token = self.advance()
        if self.tok.kind == "number":
            stamp = self.advance().text
        elif self.tok.kind == "op" and self.tok.text in "+-" and self.peek().kind == "number":
            stamp = self.advance().text + self.advance().text
        elif self.tok.kind == "ident" and self.tok.text in ("start", "end"):
            name = self.advance().text
            self.expect("(")
            self.expect(")")
            stamp = f"{name}()"
        else:
            raise self.error("@ needs a unix timestamp, start() or end()")
        target = expr.vector if isinstance(expr, MatrixSelector) else expr
        if isinstance(target, VectorSelector):
            if target.at is not None:
                raise self.error("@ may not be set multiple times", token)
            new = VectorSelector(target.pos, target.name, target.matchers, target.offset, stamp)
            return (
                MatrixSelector(expr.pos, new, expr.range)
                if isinstance(expr, MatrixSelector)
                else new
            )
        if isinstance(expr, SubqueryExpr):
            if expr.at is not None:
                raise self.error("@ may not be set multiple times", token)
            return SubqueryExpr(expr.pos, expr.expr, expr.range, expr.step, expr.offset, stamp)
        raise self.error("@ modifier must be preceded by a selector or subquery", token)

    def primary(self) -> Expr:
        token = self.tok
        if token.kind == "number":
            self.advance()
            assert isinstance(token.value, float)
            return NumberLiteral(token.pos, token.value)
        if token.kind == "string":
            self.advance()
            return StringLiteral(token.pos, str(token.value))
        if token.kind == "duration":
            raise self.error(f"unexpected duration {token.text!r} (durations go in [...])")
        if self.at("("):
            self.advance()
            inner = self.expression(0)
            self.expect(")", "to close the parenthesis")
            return ParenExpr(token.pos, inner)
        if self.at("{"):
            return self.selector(None, token.pos)
        if token.kind == "ident":
            word = token.text
            if word.lower() in AGGREGATORS and self.peek().text.lower() in ("(", "by", "without"):
                return self.aggregate()
            if self.peek().text == "(" and self.peek().kind == "op":
                if word not in FUNCTIONS:
                    raise self.error(f"unknown function {word!r}")
                return self.call()
            # Where an operand is expected, Prometheus reads most keywords (and, by, offset,
            # ...) as metric names, but not the vector matching ones.
            if word.lower() in MATCHING_KEYWORDS:
                raise self.error(f"unexpected keyword {word!r}")
            self.advance()
            return self.selector(word, token.pos)
        raise self.error(f"unexpected {self.describe(token)}")

    def label_name(self) -> str:
        token = self.tok
        if token.kind == "ident" and ":" not in token.text:
            self.advance()
            return token.text
        if token.kind == "string":  # quoted (UTF-8) label names, Prometheus 3
            self.advance()
            return str(token.value)
        raise self.error(f"expected a label name, found {self.describe(token)}")

    def label_list(self) -> tuple[str, ...]:
        self.expect("(", "to start the label list")
        names: list[str] = []
        while not self.at(")"):
            names.append(self.label_name())
            if not self.at(","):
                break
            self.advance()
        self.expect(")", "to close the label list")
        return tuple(names)

    def selector(self, name: str | None, pos: int) -> VectorSelector:
        matchers: list[Matcher] = []
        if name is not None:
            matchers.append(Matcher("__name__", "=", name))
        if self.at("{"):
            self.advance()
            while not self.at("}"):
                if self.tok.kind == "string" and self.peek().text in (",", "}"):
                    # {"metric.name"}: a quoted metric name (Prometheus 3)
                    quoted = str(self.advance().value)
                    if name is not None:
                        raise self.error("metric name given twice")
                    name = quoted
                    matchers.insert(0, Matcher("__name__", "=", quoted))
                else:
                    label = self.label_name()
                    op_token = self.tok
                    if op_token.kind != "op" or op_token.text not in ("=", "!=", "=~", "!~"):
                        raise self.error(
                            f"expected a label matching operator (=, !=, =~, !~) after "
                            f"{label!r}, found {self.describe(op_token)}"
                        )
                    self.advance()
                    if self.tok.kind != "string":
                        raise self.error(
                            f"expected a quoted string as the value of {label!r}, found "
                            f"{self.describe(self.tok)}"
                        )
                    value = str(self.advance().value)
                    if op_token.text in ("=~", "!~"):
                        _check_regex(value, self.text, op_token.pos)
                    if label == "__name__" and name is not None:
                        raise self.error("metric name given twice", op_token)
                    matchers.append(Matcher(label, op_token.text, value))
                if not self.at(","):
                    break
                self.advance()
            self.expect("}", "to close the label matchers")
        if name is None:
            if not any(not m.matches("") for m in matchers):
                raise PromQLError(
                    "vector selector must contain at least one non-empty matcher", self.text, pos
                )
            named = [m for m in matchers if m.name == "__name__" and m.op == "="]
            name = named[0].value if named else None
        return VectorSelector(pos, name, tuple(matchers))

    def arguments(self) -> list[Expr]:
        """Comma-separated expressions up to ``)``; no trailing comma (unlike label lists)."""
        args: list[Expr] = []
        if self.at(")"):
            return args
        args.append(self.expression(0))
        while self.at(","):
            self.advance()
            args.append(self.expression(0))
        return args

    def call(self) -> Call:
        token = self.advance()
        func = FUNCTIONS[token.text]
        self.expect("(")
        args = self.arguments()
        self.expect(")", f"to close the call to {func.name}")
        low, high = func.arity
        if not low <= len(args) <= high:
            if low == high:
                wanted = str(low)
            elif high == math.inf:
                wanted = f"at least {low}"
            else:
                wanted = f"{low} to {int(high)}"
            raise self.error(f"{func.name}() takes {wanted} argument(s), got {len(args)}", token)
        for index, arg in enumerate(args):
            wanted_type = func.args[min(index, len(func.args) - 1)]
            got = value_type(arg)
            if got is not wanted_type:
                raise PromQLError(
                    f"{func.name}() argument {index + 1} must be {type_name(wanted_type)}, "
                    f"got {type_name(got)}",
                    self.text,
                    arg.pos,
                )
        return Call(token.pos, func.name, tuple(args))

    def grouping(self) -> tuple[bool, tuple[str, ...]]:
        without = self.advance().text.lower() == "without"
        return without, self.label_list()

    def aggregate(self) -> AggregateExpr:
        token = self.advance()
        op = token.text.lower()
        without, has_grouping = False, False
        labels: tuple[str, ...] = ()
        if self.at("by") or self.at("without"):
            without, labels = self.grouping()
            has_grouping = True
        self.expect("(", f"after {op}")
        args = self.arguments()
        self.expect(")", f"to close {op}(...)")
        if self.at("by") or self.at("without"):
            if has_grouping:
                raise self.error(f"{op} has two by/without clauses")
            without, labels = self.grouping()
            has_grouping = True
        param_type = AGGREGATORS[op]
        wanted = 2 if param_type else 1
        if len(args) != wanted:
            raise self.error(f"{op}() takes {wanted} argument(s), got {len(args)}", token)
        param = args[0] if param_type else None
        inner = args[-1]
        if param is not None and value_type(param) is not param_type:
            raise PromQLError(
                f"{op}() parameter must be {type_name(param_type)}",  # type: ignore[arg-type]
                self.text,
                param.pos,
            )
        if value_type(inner) is not _V:
            raise PromQLError(
                f"{op}() expects an instant vector, got {type_name(value_type(inner))}",
                self.text,
                inner.pos,
            )
        return AggregateExpr(token.pos, op, inner, param, labels, without, has_grouping)


def _check_regex(pattern: str, text: str, pos: int) -> None:
    try:
        re.compile(pattern)
    except re.error as error:
        # Prometheus uses RE2, whose syntax differs from Python's (\pL, \z, ...): reject
        # only the structural errors both engines reject.
        if any(sign in str(error) for sign in _REGEX_ERRORS_BOTH_REJECT):
            raise PromQLError(
                f"invalid regular expression {pattern!r}: {error}", text, pos
            ) from None


_REGEX_ERRORS_BOTH_REJECT = (
    "missing )",
    "unbalanced parenthesis",
    "unterminated character set",
    "nothing to repeat",
    "multiple repeat",
)


def parse(text: str) -> Expr:
    """Parse a PromQL expression; raises :class:`PromQLError` with the position on failure."""
    if len(text) > MAX_LENGTH:
        raise PromQLError(
            f"expression is {len(text)} characters long, over the {MAX_LENGTH} this linter "
            "reads; split it (e.g. into recording rules)",
            text,
            MAX_LENGTH,
        )
    tree = _Parser(text).parse()
    if depth(tree) > MAX_TREE_DEPTH:
        # Long operator chains nest deeply too; the analysis functions recurse over the tree.
        raise PromQLError(
            f"expression nested too deeply (more than {MAX_TREE_DEPTH} levels)", text, 0
        )
    return tree


MAX_TREE_DEPTH = 200
