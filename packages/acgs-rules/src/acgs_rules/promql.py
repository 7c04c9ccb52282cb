"""PromQL in pure Python: a tokenizer, a parser to a typed syntax tree, and analysis helpers.

Both linters (rules and dashboards) use this module; it is the one place that knows PromQL.

Public API
----------
``parse(text) -> Expr``
    Parse an expression. Raises :class:`PromQLError` (``message``, ``position`` as a 0-based
    character offset, ``line``/``column`` 1-based) for anything Prometheus would reject at
    parse time: bad tokens, grammar, unknown functions, wrong argument counts or types
    (``rate(foo)``), ``bool`` on a non-comparison, set operators between scalars.
``analyze(text_or_expr) -> Analysis``
    What an expression uses, in source order: ``selectors`` (each a :class:`SelectorUse` with
    ``name``, ``matchers``, ``range_seconds`` when inside a range or subquery, ``function``
    the innermost function applied to it), ``metric_names``, ``functions``
    (:class:`FunctionUse`), ``aggregations`` (:class:`AggregationUse` with ``op``,
    ``grouping``, ``without``), ``ranges`` (:class:`RangeUse`: seconds, ``"range"`` or
    ``"subquery"``), ``label_names`` (every label name written in a matcher, grouping or
    matching clause) and ``has_comparison``.
``walk(expr) -> Iterator[Expr]``
    Every node, parents before children.
``output_labels(expr, resolve=None) -> LabelSet``
    Which labels the result series can carry: ``LabelSet.has(name)`` answers True (kept for
    sure), False (removed for sure) or None (depends on the data).
``value_type(expr) -> ValueType``
    ``scalar``, ``vector``, ``matrix`` or ``string``.
``parse_duration(text) -> float`` / ``format_duration(seconds) -> str``
    PromQL durations such as ``1h30m`` (seconds as float).
``tokenize(text) -> list[Token]``
    The tokens (kind, text, position); comments and whitespace dropped.
``FUNCTIONS``, ``AGGREGATORS``, ``COMPARISON_OPS``
    The language tables (``FUNCTIONS[name].since`` is the first Prometheus version with it).

Conformance: the parser accepts and rejects what Prometheus 2.42 does; the tests check a
corpus and thousands of mutated expressions against the real ``promtool``. Regular
expressions are only rejected for structural errors (Prometheus uses RE2, not Python's
``re``). Expressions nested deeper than ``MAX_NESTING`` parentheses or ``MAX_TREE_DEPTH``
levels are rejected with a PromQLError rather than exhausting the stack.

Node classes (frozen dataclasses, each with ``pos``): :class:`NumberLiteral`,
:class:`StringLiteral`, :class:`VectorSelector` (``name``, ``matchers``, ``offset``, ``at``),
:class:`MatrixSelector` (``vector``, ``range``), :class:`SubqueryExpr`, :class:`Call`,
:class:`AggregateExpr`, :class:`BinaryExpr` (``op``, ``lhs``, ``rhs``, ``bool_modifier``,
``matching``), :class:`UnaryExpr`, :class:`ParenExpr`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "AGGREGATORS",
    "COMPARISON_OPS",
    "FUNCTIONS",
    "AggregateExpr",
    "AggregationUse",
    "Analysis",
    "BinaryExpr",
    "Call",
    "Expr",
    "FunctionUse",
    "LabelSet",
    "Matcher",
    "MatrixSelector",
    "NumberLiteral",
    "ParenExpr",
    "PromQLError",
    "RangeUse",
    "SelectorUse",
    "StringLiteral",
    "SubqueryExpr",
    "UnaryExpr",
    "ValueType",
    "VectorMatching",
    "VectorSelector",
    "analyze",
    "format_duration",
    "output_labels",
    "parse",
    "parse_duration",
    "tokenize",
    "value_type",
    "walk",
]


class PromQLError(ValueError):
    """A PromQL expression Prometheus would reject; says where and why."""

    def __init__(self, message: str, text: str, position: int) -> None:
        self.message = message
        self.position = max(0, min(position, len(text)))
        before = text[: self.position]
        self.line = before.count("\n") + 1
        self.column = self.position - (before.rfind("\n") + 1) + 1
        super().__init__(f"{message} (line {self.line}, column {self.column})")


class ValueType(StrEnum):
    SCALAR = "scalar"
    VECTOR = "vector"
    MATRIX = "matrix"
    STRING = "string"


_S, _V, _M, _STR = ValueType.SCALAR, ValueType.VECTOR, ValueType.MATRIX, ValueType.STRING


@dataclass(frozen=True)
class Function:
    """A PromQL function's signature, with Prometheus's meaning of ``variadic``: when it is
    not 0 the last argument may be left out, and (if positive) up to ``variadic`` arguments
    may be given in its place; -1 means any number."""

    name: str
    args: tuple[ValueType, ...]
    returns: ValueType
    variadic: int = 0
    since: str = "2.0"  # first Prometheus version with this function

    @property
    def arity(self) -> tuple[int, float]:
        """Fewest and most arguments."""
        if self.variadic == 0:
            return len(self.args), len(self.args)
        least = len(self.args) - 1
        return least, (math.inf if self.variadic < 0 else least + self.variadic)


def _fn(
    name: str,
    args: str,
    returns: ValueType = _V,
    variadic: int = 0,
    since: str = "2.0",
) -> Function:
    kinds = {"s": _S, "v": _V, "m": _M, "S": _STR}
    return Function(name, tuple(kinds[a] for a in args), returns, variadic, since)


_MATH = "abs ceil exp floor ln log10 log2 sqrt sgn acos acosh asin asinh atan atanh cos cosh"
_MATH += " sin sinh tan tanh deg rad sort sort_desc timestamp"
_OVER_TIME = "avg min max sum count stddev stdvar last present absent"
_DATE = "day_of_month day_of_week day_of_year days_in_month hour minute month year"

FUNCTIONS: dict[str, Function] = {
    **{n: _fn(n, "v") for n in _MATH.split()},
    **{f"{n}_over_time": _fn(f"{n}_over_time", "m") for n in _OVER_TIME.split()},
    **{n: _fn(n, "v", variadic=1) for n in _DATE.split()},
    "absent": _fn("absent", "v"),
    "changes": _fn("changes", "m"),
    "clamp": _fn("clamp", "vss"),
    "clamp_max": _fn("clamp_max", "vs"),
    "clamp_min": _fn("clamp_min", "vs"),
    "delta": _fn("delta", "m"),
    "deriv": _fn("deriv", "m"),
    "histogram_quantile": _fn("histogram_quantile", "sv"),
    "holt_winters": _fn("holt_winters", "mss"),
    "idelta": _fn("idelta", "m"),
    "increase": _fn("increase", "m"),
    "irate": _fn("irate", "m"),
    "label_join": _fn("label_join", "vSSS", variadic=-1),
    "label_replace": _fn("label_replace", "vSSSS"),
    "pi": _fn("pi", "", _S),
    "predict_linear": _fn("predict_linear", "ms"),
    "quantile_over_time": _fn("quantile_over_time", "sm"),
    "rate": _fn("rate", "m"),
    "resets": _fn("resets", "m"),
    "round": _fn("round", "vs", variadic=1),
    "scalar": _fn("scalar", "v", _S),
    "time": _fn("time", "", _S),
    "vector": _fn("vector", "s"),
    # Native histograms (2.40+) and Prometheus 3 additions: flagged by the compat check.
    "histogram_count": _fn("histogram_count", "v", since="2.40"),
    "histogram_sum": _fn("histogram_sum", "v", since="2.40"),
    "histogram_fraction": _fn("histogram_fraction", "ssv", since="2.40"),
    "histogram_avg": _fn("histogram_avg", "v", since="2.53"),
    "histogram_stddev": _fn("histogram_stddev", "v", since="2.46"),
    "histogram_stdvar": _fn("histogram_stdvar", "v", since="2.46"),
    "mad_over_time": _fn("mad_over_time", "m", since="2.46"),
    "sort_by_label": _fn("sort_by_label", "vS", variadic=-1, since="2.46"),
    "sort_by_label_desc": _fn("sort_by_label_desc", "vS", variadic=-1, since="2.46"),
    "double_exponential_smoothing": _fn("double_exponential_smoothing", "mss", since="3.0"),
    "info": _fn("info", "vv", variadic=1, since="3.0"),
}

# Aggregation operators; the value is the type of the parameter, if any.
AGGREGATORS: dict[str, ValueType | None] = {
    "sum": None,
    "avg": None,
    "min": None,
    "max": None,
    "count": None,
    "group": None,
    "stddev": None,
    "stdvar": None,
    "topk": _S,
    "bottomk": _S,
    "quantile": _S,
    "count_values": _STR,
    "limitk": _S,
    "limit_ratio": _S,
}
AGGREGATORS_SINCE = {"limitk": "3.0", "limit_ratio": "3.0"}

COMPARISON_OPS = frozenset({"==", "!=", ">", "<", ">=", "<="})
SET_OPS = frozenset({"and", "or", "unless"})
ARITHMETIC_OPS = frozenset({"+", "-", "*", "/", "%", "^", "atan2"})
# Lower number binds looser.
_PRECEDENCE = {
    "or": 1,
    "and": 2,
    "unless": 2,
    **dict.fromkeys(COMPARISON_OPS, 3),
    "+": 4,
    "-": 4,
    "*": 5,
    "/": 5,
    "%": 5,
    "atan2": 5,
    "^": 6,
}
_KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right", "bool"})
_KEYWORDS |= {"offset", "and", "or", "unless", "atan2"}
_MATCHING_KEYWORDS = frozenset({"bool", "on", "ignoring", "group_left", "group_right"})

# --- syntax tree ----------------------------------------------------------------------


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
    card: str  # one-to-one, many-to-one, one-to-many
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


# --- durations ------------------------------------------------------------------------

_UNIT_SECONDS = {
    "ms": 0.001,
    "s": 1,
    "m": 60,
    "h": 3600,
    "d": 86400,
    "w": 7 * 86400,
    "y": 365 * 86400,
}
_DURATION = re.compile(r"(?:[0-9]+(?:ms|[smhdwy]))+")
_DURATION_PART = re.compile(r"([0-9]+)(ms|[smhdwy])")


def parse_duration(text: str) -> float:
    """``1h30m`` -> 5400.0. Raises ValueError for anything else (units in descending order)."""
    if not _DURATION.fullmatch(text):
        raise ValueError(f"not a duration: {text!r} (use e.g. 30s, 5m, 1h30m)")
    total = 0.0
    last = math.inf
    for amount, unit in _DURATION_PART.findall(text):
        size = _UNIT_SECONDS[unit]
        if size >= last:
            raise ValueError(f"not a duration: {text!r} (units must go from largest to smallest)")
        last = size
        total += int(amount) * size
    return total


def format_duration(seconds: float) -> str:
    """5400 -> ``1h30m``; sub-second parts in ms."""
    if seconds == 0:
        return "0s"
    millis = round(seconds * 1000)
    parts = []
    for unit in ("w", "d", "h", "m", "s", "ms"):
        size = round(_UNIT_SECONDS[unit] * 1000)
        if millis >= size:
            parts.append(f"{millis // size}{unit}")
            millis %= size
    return "".join(parts)


# --- tokenizer ------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    kind: str  # ident, number, duration, string, op, eof
    text: str
    pos: int
    value: object = None


_NUMBER = re.compile(
    r"0[xX][0-9a-fA-F]+|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII
)
_IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_OPS = ("=~", "!~", "!=", "==", ">=", "<=", "+", "-", "*", "/", "%", "^", "<", ">", "=")
_PUNCT = "(){}[],@:"
_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def _read_string(text: str, start: int) -> tuple[str, int]:
    quote = text[start]
    i = start + 1
    out: list[str] = []
    while i < len(text):
        ch = text[i]
        if ch == quote:
            return "".join(out), i + 1
        if ch == "\n" and quote != "`":
            raise PromQLError("unterminated string (newline inside quotes)", text, start)
        if ch == "\\" and quote != "`":
            i += 1
            if i >= len(text):
                break
            esc = text[i]
            if esc in _ESCAPES:
                out.append(_ESCAPES[esc])
            elif esc in "\\'\"":
                out.append(esc)
            elif esc in "xuU01234567":
                digits = {"x": 2, "u": 4, "U": 8}.get(esc, 3)
                first = i + 1 if esc in "xuU" else i
                code = text[first : first + digits]
                base = 8 if esc not in "xuU" else 16
                try:
                    out.append(chr(int(code, base)))
                except ValueError:
                    raise PromQLError(f"bad escape \\{esc}{code}", text, i) from None
                i = first + digits - 1
            else:
                raise PromQLError(f"unknown escape sequence \\{esc}", text, i)
        else:
            out.append(ch)
        i += 1
    raise PromQLError("unterminated string", text, start)


def tokenize(text: str) -> list[Token]:
    """Split an expression into tokens; comments (``# ...``) and whitespace are dropped."""
    tokens: list[Token] = []
    brackets: list[str] = []  # inside [...] a colon is the subquery separator
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch in "([{":
            brackets.append(ch)
        elif ch in ")]}" and brackets:
            brackets.pop()
        if ch == ":" and brackets and brackets[-1] == "[":
            tokens.append(Token("op", ch, i))
            i += 1
            continue
        if ch in " \t\r\n":
            i += 1
            continue
        if ch == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        if ch in "\"'`":
            value, end = _read_string(text, i)
            tokens.append(Token("string", text[i:end], i, value))
            i = end
            continue
        if ch.isdigit() or (ch == "." and i + 1 < n and text[i + 1].isdigit()):
            dur = _DURATION.match(text, i)
            num = _NUMBER.match(text, i)
            if dur and (not num or dur.end() > num.end()):
                tokens.append(Token("duration", dur.group(), i))
                i = dur.end()
                continue
            assert num is not None
            if num.end() < n and (text[num.end()].isalnum() or text[num.end()] == "_"):
                raise PromQLError(f"bad number or duration {text[i : num.end() + 1]!r}", text, i)
            raw = num.group()
            number = float(int(raw, 16)) if raw[:2].lower() == "0x" else float(raw)
            tokens.append(Token("number", raw, i, number))
            i = num.end()
            continue
        ident = _IDENT.match(text, i)
        if ident:
            word = ident.group()
            if word.lower() in ("inf", "nan"):
                tokens.append(Token("number", word, i, float(word)))
            else:
                tokens.append(Token("ident", word, i))
            i = ident.end()
            continue
        for op in _OPS:
            if text.startswith(op, i):
                tokens.append(Token("op", op, i))
                i += len(op)
                break
        else:
            if ch in _PUNCT:
                tokens.append(Token("op", ch, i))
                i += 1
            else:
                raise PromQLError(f"unexpected character {ch!r}", text, i)
    tokens.append(Token("eof", "", n))
    return tokens


# --- parser ---------------------------------------------------------------------------


# Deeper nesting than any real rule, shallow enough for Python's recursion limit.
MAX_NESTING = 100


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
            return token.text.lower() == text if text in _KEYWORDS else token.text == text
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
        if token.kind == "op" and token.text in _PRECEDENCE:
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
            if op is None or _PRECEDENCE[op] < min_prec:
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
            next_min = _PRECEDENCE[op] if op == "^" else _PRECEDENCE[op] + 1
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
                    f"({side} side of {op!r} is {_type_name(kind)})",
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
            rhs = self.expression(_PRECEDENCE["^"])
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
                    f"{_type_name(value_type(expr))}",
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
            if word.lower() in _MATCHING_KEYWORDS:
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
                    f"{func.name}() argument {index + 1} must be {_type_name(wanted_type)}, "
                    f"got {_type_name(got)}",
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
                f"{op}() parameter must be {_type_name(param_type)}",  # type: ignore[arg-type]
                self.text,
                param.pos,
            )
        if value_type(inner) is not _V:
            raise PromQLError(
                f"{op}() expects an instant vector, got {_type_name(value_type(inner))}",
                self.text,
                inner.pos,
            )
        return AggregateExpr(token.pos, op, inner, param, labels, without, has_grouping)


def _type_name(kind: ValueType) -> str:
    return {
        _S: "a scalar",
        _V: "an instant vector",
        _M: "a range vector",
        _STR: "a string",
    }[kind]


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
    tree = _Parser(text).parse()
    if _depth(tree) > MAX_TREE_DEPTH:
        # Long operator chains nest deeply too; the analysis functions recurse over the tree.
        raise PromQLError(
            f"expression nested too deeply (more than {MAX_TREE_DEPTH} levels)", text, 0
        )
    return tree


MAX_TREE_DEPTH = 200


def _depth(tree: Expr) -> int:
    deepest = 0
    stack = [(tree, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in _children(node))
    return deepest


# --- types and labels -----------------------------------------------------------------


def value_type(expr: Expr) -> ValueType:
    """The type of value an expression evaluates to."""
    if isinstance(expr, NumberLiteral):
        return _S
    if isinstance(expr, StringLiteral):
        return _STR
    if isinstance(expr, VectorSelector | AggregateExpr):
        return _V
    if isinstance(expr, MatrixSelector | SubqueryExpr):
        return _M
    if isinstance(expr, Call):
        return FUNCTIONS[expr.func].returns
    if isinstance(expr, ParenExpr | UnaryExpr):
        return value_type(expr.expr)
    if isinstance(expr, BinaryExpr):
        return expr.result_type
    raise TypeError(f"not a PromQL node: {expr!r}")


def walk(expr: Expr) -> Iterator[Expr]:
    """Every node of the tree, parents before children, left to right."""
    stack = [expr]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(_children(node)))


def _children(node: Expr) -> list[Expr]:
    if isinstance(node, MatrixSelector):
        return [node.vector]
    if isinstance(node, SubqueryExpr | ParenExpr | UnaryExpr):
        return [node.expr]
    if isinstance(node, Call):
        return list(node.args)
    if isinstance(node, AggregateExpr):
        return [node.param, node.expr] if node.param is not None else [node.expr]
    if isinstance(node, BinaryExpr):
        return [node.lhs, node.rhs]
    return []


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
_LABEL_ADDERS = frozenset({"label_replace", "label_join"})


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
    if call.func in _LABEL_ADDERS and isinstance(call.args[1], StringLiteral):
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


# --- analysis -------------------------------------------------------------------------


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


def analyze(expr: str | Expr) -> Analysis:
    """Parse (if given text) and collect what the expression uses."""
    tree = parse(expr) if isinstance(expr, str) else expr
    result = Analysis(tree)
    _collect(tree, result, None, None, ())
    return result


def _collect(
    node: Expr,
    out: Analysis,
    window: float | None,
    function: str | None,
    aggregations: tuple[str, ...],
) -> None:
    if isinstance(node, VectorSelector):
        out.selectors.append(SelectorUse(node, window, function, aggregations))
        out.label_names.update(m.name for m in node.label_matchers())
        return
    if isinstance(node, MatrixSelector):
        out.ranges.append(RangeUse(node.range, "range", node.pos))
        _collect(node.vector, out, node.range, function, aggregations)
        return
    if isinstance(node, SubqueryExpr):
        out.ranges.append(RangeUse(node.range, "subquery", node.pos, node.step))
        _collect(node.expr, out, node.range, function, aggregations)
        return
    if isinstance(node, Call):
        out.functions.append(FunctionUse(node.func, node.pos, node))
        for arg in node.args:
            _collect(arg, out, None, node.func, aggregations)
        return
    if isinstance(node, AggregateExpr):
        out.aggregations.append(
            AggregationUse(node.op, node.grouping, node.without, node.pos, node)
        )
        out.label_names.update(node.grouping)
        if node.param is not None:
            _collect(node.param, out, None, None, aggregations)
        _collect(node.expr, out, None, None, (node.op, *aggregations))
        return
    if isinstance(node, BinaryExpr):
        if node.op in COMPARISON_OPS:
            out.has_comparison = True
        if node.matching is not None:
            out.label_names.update(node.matching.labels + node.matching.include)
        _collect(node.lhs, out, None, None, aggregations)
        _collect(node.rhs, out, None, None, aggregations)
        return
    if isinstance(node, ParenExpr | UnaryExpr):
        _collect(node.expr, out, window, function, aggregations)
