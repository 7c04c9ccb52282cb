"""The parser against the real promtool, and property-based tests (hypothesis)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acgs_promql.analysis import analyze
from acgs_promql.checks.base import CheckOptions
from acgs_promql.checks.registry import BY_NAME, CHECKS
from acgs_promql.expression import Expression, Role
from acgs_promql.index import MetricIndex, RecordedSeries
from acgs_promql.language import ValueType
from acgs_promql.lexer import PromQLError
from acgs_promql.parser import MAX_LENGTH, parse
from acgs_promql.tree import value_type
from acgs_testkit.promtool import rules_accepted

# Expressions on both sides of the grammar's edges; promtool decides which are valid.
CORPUS = [
    "up",
    'up{job="a"} == 0',
    "sum by (job) (rate(http_requests_total[5m])) > 1",
    "sum(rate(x[5m])) by (job)",
    "histogram_quantile(0.95, sum by (le) (rate(x_bucket[5m])))",
    "a / on(job) group_left(team) b",
    "a > bool 1",
    "1 < bool 2",
    "1 < 2",
    "rate(x[5m] offset 1h)",
    "rate(x[5m] @ 100)",
    "x @ start()",
    "max_over_time(rate(x[1m])[1h:5m])",
    "max_over_time(rate(x[1m])[1h:])",
    "rate(x)",
    "sum(x[5m])",
    "x[5m][5m]",
    "{}",
    '{job=""}',
    '{job=~".*"}',
    '{job=~".+"}',
    "topk(3, x)",
    "topk(x)",
    'count_values("v", x)',
    "quantile(0.9, x) without (instance)",
    "a and 1",
    "a or on() vector(0)",
    "-x ^ 2",
    "- - 1",
    "x offset -5m",
    "label_replace(up, 'a', '$1', 'b', '(.*)')",
    'label_join(up, "a", ",", "b", "c")',
    "absent_over_time(up[5m])",
    "predict_linear(x[1h], 3600)",
    "round(x)",
    "round(x, 0.1)",
    "round(x, 0.1, 1)",
    "day_of_week()",
    "time() - x",
    "scalar(x) * 2",
    "vector(time())",
    "holt_winters(x[1h], 0.5, 0.5)",
    "clamp(x, 0, 1)",
    "x unless y",
    "x and on(job) group_left y",
    "0x1F + 1e3 + .5",
    "x > Inf",
    "sum without () (x)",
    "sum(x) by ()",
    "a + bool b",
    "a % b",
    "atan2(a, b)",
    "a atan2 b",
    "foo bar",
    "sum by (a) (x) by (b)",
    "x[1m5h]",
    "x[0s]",
    "x[5m:0s]",
    'x{a=~"("}',
    "job:rate5m:sum",
    "SUM BY (job) (x)",
    "x OFFSET 5m",
    "RATE(x[5m])",
    "nofunc(x)",
    "x{a='b'}",
    "x{a=`b`}",
    '"string"',
    'sum("s")',
    "(x)",
    "((x))[5m:]",
    "(x)[5m]",
    "rate((x[5m]))",
    "x # comment",
    "1 +",
    "x ~ 1",
    "x[1d2h]",
    "rate(x[5m],)",
    "sum by (a,) (x)",
    "sum(x,)",
    "topk(3, x,)",
    'x{a="b",,}',
    "sum by () (x)",
    "count_values(1, x)",
    'quantile("a", x)',
    "x offset 1h30m",
    "x[1y]",
    "x[1w2d]",
    "x @ -1",
    "x @ 1.5e9",
    "x @ end() offset 5m",
    "rate(x[5m:])",
    'x{__name__=~"a.*"}',
    '{__name__="a", __name__="b"}',
    'a{__name__="b"}',
    "vector(1) + on(x) vector(2)",
    "1 + on(x) 2",
    "a == bool on(x) b",
    "a unless ignoring(x) b",
    'absent(nonexistent{job="x"})',
    'label_join(x, "d", "-")',
    "sort_desc(sum by (a) (x))",
    "deriv(x[5m]) * 60",
    '-{a="b"}',
    "+x",
    "--x",
    "x ^ -1",
    "2 ^ 3 ^ 2",
    "x > -Inf",
    "NaN == bool NaN",
    "x and on() (y)",
    "a / ignoring(b) group_left c",
    "max_over_time((a + b)[5m:1m])",
    "time() > 0",
    "scalar(x) > bool 1",
    'x{a!~""}',
    'x{a=~""}',
    '{a!=""}',
    '{a=~".+"}',
    "x{}",
    "sum by (__name__) (x)",
    "x[5M]",
    "x[5m 1s]",
    "x[1.5m]",
    'x{a=~"*a"}',
    'x{a=~"[a"}',
    'x{a=~"a)"}',
    'x{a=~"\\\\pL+"}',
    'x{a=~"\\\\d+\\\\.\\\\d+"}',
]


def promtool_accepts(expressions: list[str], folder: Path) -> list[bool]:
    """Which expressions ``promtool check rules`` accepts, each in a recording rule."""
    return rules_accepted([{"record": "r", "expr": expr} for expr in expressions], folder)


def we_accept(expr: str) -> bool:
    try:
        parse(expr)
    except PromQLError:
        return False
    return True


def test_parser_agrees_with_promtool_on_the_corpus(tmp_path: Path) -> None:
    theirs = promtool_accepts(CORPUS, tmp_path)
    disagreements = [
        (expr, "promtool accepts" if ok else "promtool rejects")
        for expr, ok in zip(CORPUS, theirs, strict=True)
        if we_accept(expr) != ok
    ]
    assert not disagreements
    assert any(theirs)
    assert not all(theirs)


# --- a generator of valid expressions, typed like the grammar --------------------------

METRICS = st.sampled_from(["up", "http_requests_total", "job:req:rate5m", "node_load1"])
LABELS = st.sampled_from(["job", "instance", "code", "le"])
DURATIONS = st.sampled_from(["30s", "1m", "5m", "1h", "1h30m", "250ms"])
NUMBERS = st.sampled_from(["0", "1", "0.5", "1e3", "0x10", "42"])


@st.composite
def selectors(draw: st.DrawFn) -> str:
    name = draw(METRICS)
    matchers = draw(
        st.lists(st.tuples(LABELS, st.sampled_from(["=", "!=", "=~", "!~"])), max_size=3)
    )
    if not matchers:
        return name
    body = ", ".join(f'{label}{op}"v.*"' for label, op in matchers)
    return f"{name}{{{body}}}"


def scalars(depth: int) -> st.SearchStrategy[str]:
    base = NUMBERS | st.just("time()")
    if depth <= 0:
        return base
    return base | st.builds(lambda v: f"scalar({v})", vectors(depth - 1))


def ranges(depth: int) -> st.SearchStrategy[str]:
    plain = st.builds(lambda s, d: f"{s}[{d}]", selectors(), DURATIONS)
    if depth <= 0:
        return plain
    sub = st.builds(lambda v, d: f"({v})[{d}:]", vectors(depth - 1), DURATIONS)
    return plain | sub


def vectors(depth: int) -> st.SearchStrategy[str]:
    base = selectors()
    if depth <= 0:
        return base
    inner = vectors(depth - 1)
    return st.one_of(
        base,
        st.builds(
            lambda f, r: f"{f}({r})",
            st.sampled_from(["rate", "increase", "max_over_time", "absent_over_time"]),
            ranges(depth - 1),
        ),
        st.builds(
            lambda op, g, v, after: f"{op}({v}) by ({g})" if after else f"{op} by ({g}) ({v})",
            st.sampled_from(["sum", "avg", "max", "count", "group"]),
            LABELS,
            inner,
            st.booleans(),
        ),
        st.builds(
            lambda a, op, b: f"{a} {op} {b}",
            inner,
            st.sampled_from(["+", "*", "/", "and", "or", "unless", ">", "== bool", "%"]),
            inner,
        ),
        st.builds(
            lambda a, op, s: f"({a}) {op} {s}", inner, st.sampled_from(["*", ">"]), scalars(0)
        ),
        st.builds(lambda q, v: f"histogram_quantile({q}, {v})", NUMBERS, inner),
        st.builds(lambda v, d: f"{v} offset {d}", selectors(), DURATIONS),
        st.builds(lambda v: f"-({v})", inner),
    )


@settings(max_examples=300, deadline=None)
@given(vectors(3))
def test_generated_expressions_parse_as_vectors(expr: str) -> None:
    tree = parse(expr)
    assert value_type(tree) is ValueType.VECTOR
    names = analyze(tree).metric_names
    assert names  # every generated vector reads at least one metric
    assert all(name in expr for name in names)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(vectors(2), min_size=10, max_size=10))
def test_generated_expressions_are_valid_for_promtool(tmp_path: Path, exprs: list[str]) -> None:
    assert all(promtool_accepts(exprs, tmp_path))


@settings(max_examples=500, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(list("abx_:{}[]()\"=~!<>+-*/^%,@ 0159.mshby#\n'`\\")), max_size=40
    )
)
def test_any_text_parses_or_fails_cleanly(text: str) -> None:
    error = parse_error(text)
    if error is not None:
        assert error.line >= 1
        assert error.column >= 1
        assert 0 <= error.position <= len(text)


@settings(max_examples=300, deadline=None)
@given(vectors(2), st.data())
def test_mutated_expressions_fail_cleanly(expr: str, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(expr)))
    insert = data.draw(st.sampled_from(["", "(", ")", "[", "]", "{", "}", '"', ",", " by ", "5m"]))
    cut = data.draw(st.integers(0, 3))
    mutated = expr[:index] + insert + expr[index + cut :]
    with contextlib.suppress(PromQLError):
        parse(mutated)


@pytest.mark.parametrize(("depth", "too_deep"), [(50, False), (400, True)])
def test_deep_nesting_is_an_error_not_a_crash(depth: int, too_deep: bool) -> None:
    text = "(" * depth + "x" + ")" * depth
    error = parse_error(text)
    if too_deep:
        assert error is not None
        assert "nested too deeply" in error.message
    else:
        assert error is None
        assert value_type(parse(text)) is ValueType.VECTOR


PATHOLOGICAL = {
    "operator chain": " + ".join(["up"] * 30_000),  # 150,000 characters
    "long selector": "up{" + ",".join(f'l{i}="v"' for i in range(20_000)) + "}",
    "parentheses": "(" * 60_000 + "up" + ")" * 60_000,
    "unary minus": "-" * 5_000 + "up",
    "function calls": "abs(" * 5_000 + "up" + ")" * 5_000,
    "and chain": " and ".join(["up"] * 1_000),
}


@pytest.mark.parametrize("text", PATHOLOGICAL.values(), ids=PATHOLOGICAL.keys())
def test_pathological_expressions_are_findings_not_crashes(text: str) -> None:
    """Too long or too deep: a PromQLError (a promql/syntax finding), never a RecursionError,
    and the length bound refuses before any tokenizing."""
    expression = Expression(text, Role.ALERT)
    assert expression.error is not None
    expected = "characters long, over the" if len(text) > MAX_LENGTH else "nested too deeply"
    assert expected in expression.error.message
    assert expression.analysis is None


def parse_error(text: str) -> PromQLError | None:
    try:
        parse(text)
    except PromQLError as error:
        return error
    return None


@settings(max_examples=150, deadline=None)
@given(vectors(3), st.sampled_from(list(Role)))
def test_every_check_handles_generated_expressions(expr: str, role: Role) -> None:
    """Every PromQL check runs on any valid expression in any role without crashing, over
    an index where one generated name is recorded from the expression itself."""
    recorded = RecordedSeries("job:req:rate5m", Expression(expr, Role.RECORD))
    index = MetricIndex(recorded=[recorded])
    options = CheckOptions(sample_interval=lambda selector: 15.0)
    expression = Expression(expr, role)
    for check in CHECKS:
        problems = check.run(expression, index, options)
        assert all(p.position is None or 0 <= p.position < len(expr) for p in problems)
    assert expression.walk is not None
    assert not BY_NAME["promql/syntax"].run(expression, index, options)  # all are vectors


MUTATION_BASES = [
    'sum by (job) (rate(http_requests_total{code=~"5.."}[5m])) / on(job) group_left '
    "sum(rate(x[5m])) > bool 0.5",
    "histogram_quantile(0.9, sum without (instance) (rate(x_bucket[5m] offset 1h)))",
    "max_over_time(rate(x[1m])[1h:5m] @ start())",
    'topk(3, x) by (a) unless absent(y{a="b"})',
    'label_replace(up, "a", "$1", "b", "(.*)") == 0 and on() vector(1)',
    "-x ^ 2 % 3 atan2 y",
    'count_values("v", x) > 1',
    "quantile(0.5, x) without (le)",
    "round(x, 0.5) + time()",
    "x{a='b', c!~`d`} offset -5m",
    "sum(x) by (a) or sum by (b) (y)",
]
MUTATION_PIECES = [
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    '"',
    ",",
    " by ",
    " on ",
    "bool ",
    "5m",
    ":",
    "@",
    "offset ",
    " - ",
    "1",
    "x",
    "==",
    " and ",
    "sum",
    "(x)",
    "[5m:]",
    " group_left ",
    "",
]


@pytest.mark.parametrize("seed", [1, 2])
def test_mutated_expressions_agree_with_promtool(tmp_path: Path, seed: int) -> None:
    """Broken and odd expressions (cut, bracket and keyword insertions) are judged as
    Prometheus 2.42 judges them."""
    import random

    chooser = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    expressions = []
    for _ in range(300):
        text = chooser.choice(MUTATION_BASES)
        for _ in range(chooser.randint(1, 2)):
            at = chooser.randint(0, len(text))
            cut = chooser.randint(0, 3)
            text = text[:at] + chooser.choice(MUTATION_PIECES) + text[at + cut :]
        expressions.append(text)
    theirs = promtool_accepts(expressions, tmp_path)
    disagreements = [
        (expr, ok) for expr, ok in zip(expressions, theirs, strict=True) if we_accept(expr) != ok
    ]
    assert disagreements == []
    assert 0 < sum(theirs) < len(expressions)
