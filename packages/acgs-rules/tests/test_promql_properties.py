"""The parser against the real promtool, and property-based tests (hypothesis)."""

from __future__ import annotations

import contextlib
import subprocess
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acgs_rules.promql import PromQLError, ValueType, analyze, parse, value_type

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
    "x[1.5m]",
]


def promtool_accepts(expressions: list[str], folder: Path) -> list[bool]:
    """Which expressions ``promtool check rules`` accepts (one rule file each, one run)."""
    files = []
    for index, expr in enumerate(expressions):
        path = folder / f"e{index}.yml"
        rules = {"groups": [{"name": "g", "rules": [{"record": "r", "expr": expr}]}]}
        path.write_text(yaml.safe_dump(rules))
        files.append(path)
    result = subprocess.run(
        ["promtool", "check", "rules", *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
    )
    failed = {line.split(":", 1)[0] for line in result.stderr.splitlines() if ": " in line}
    return [str(path) not in failed for path in files]


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


def parse_error(text: str) -> PromQLError | None:
    try:
        parse(text)
    except PromQLError as error:
        return error
    return None


@settings(max_examples=150, deadline=None)
@given(vectors(3), st.sampled_from(["critical", "warning", "info"]))
def test_every_check_handles_generated_expressions(expr: str, severity: str) -> None:
    import tempfile

    from acgs_rules.lint import lint

    rule = {
        "alert": "Generated",
        "expr": expr,
        "for": "1m",
        "labels": {"severity": severity},
        "annotations": {"summary": "{{ $labels.job }}", "description": "d", "runbook_url": "x"},
    }
    recording = {"record": "job:req:rate5m", "expr": expr}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rules.yml"
        path.write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": [recording, rule]}]}))
        result = lint([path], promtool=False)
    assert not [f for f in result.findings if "internal error" in f.message]
    assert not [f for f in result.findings if f.check == "promql/syntax"]
