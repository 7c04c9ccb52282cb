"""The PromQL parser and analysis: grammar, types, errors with positions, label tracking."""

from __future__ import annotations

import pytest

from acgs_promql.analysis import analyze
from acgs_promql.durations import format_duration, parse_duration
from acgs_promql.labels import output_labels
from acgs_promql.language import ValueType
from acgs_promql.lexer import PromQLError, tokenize
from acgs_promql.parser import parse
from acgs_promql.tree import (
    AggregateExpr,
    BinaryExpr,
    Call,
    MatrixSelector,
    NumberLiteral,
    SubqueryExpr,
    UnaryExpr,
    VectorSelector,
    value_type,
)


def test_selector_with_every_matcher_kind() -> None:
    tree = parse('http_requests_total{job="api", code!="200", path=~"/v1/.*", m!~"GET|HEAD"}')
    assert isinstance(tree, VectorSelector)
    assert tree.name == "http_requests_total"
    assert [(m.name, m.op, m.value) for m in tree.label_matchers()] == [
        ("job", "=", "api"),
        ("code", "!=", "200"),
        ("path", "=~", "/v1/.*"),
        ("m", "!~", "GET|HEAD"),
    ]


def test_name_only_in_braces_and_trailing_comma() -> None:
    tree = parse('{__name__="up", job="x",}')
    assert isinstance(tree, VectorSelector)
    assert tree.name == "up"


def test_range_offset_and_at_in_either_order() -> None:
    one = parse("rate(x[5m] offset 1h @ 1700000000)")
    two = parse("rate(x[5m] @ 1700000000 offset 1h)")
    for tree in (one, two):
        assert isinstance(tree, Call)
        matrix = tree.args[0]
        assert isinstance(matrix, MatrixSelector)
        assert matrix.range == 300
        assert matrix.vector.offset == 3600
        assert matrix.vector.at == "1700000000"
    negative = parse("x offset -5m")
    assert isinstance(negative, VectorSelector)
    assert negative.offset == -300


def test_subquery_with_and_without_step() -> None:
    tree = parse("max_over_time(rate(x[1m])[1h:30s] offset 5m)")
    assert isinstance(tree, Call)
    sub = tree.args[0]
    assert isinstance(sub, SubqueryExpr)
    assert (sub.range, sub.step, sub.offset) == (3600, 30, 300)
    bare = parse("min_over_time(up[10m:])")
    assert isinstance(bare, Call)
    assert isinstance(bare.args[0], SubqueryExpr)
    assert bare.args[0].step is None


@pytest.mark.parametrize(
    "text",
    ["sum by (job, le) (x)", "sum(x) by (job, le)", "SUM BY (job, le) (x)"],
)
def test_grouping_before_or_after(text: str) -> None:
    tree = parse(text)
    assert isinstance(tree, AggregateExpr)
    assert tree.grouping == ("job", "le")
    assert not tree.without


def test_aggregation_parameters() -> None:
    top = parse("topk(5, x) without (instance)")
    assert isinstance(top, AggregateExpr)
    assert isinstance(top.param, NumberLiteral)
    assert top.without
    counted = parse('count_values("version", build_info)')
    assert isinstance(counted, AggregateExpr)
    assert output_labels(counted).has("version") is None  # kept labels: only the new one


def test_precedence_and_associativity() -> None:
    tree = parse("a + b * c ^ d ^ e")
    assert isinstance(tree, BinaryExpr)
    assert tree.op == "+"
    mul = tree.rhs
    assert isinstance(mul, BinaryExpr)
    assert mul.op == "*"
    power = mul.rhs
    assert isinstance(power, BinaryExpr)
    assert power.op == "^"
    assert isinstance(power.rhs, BinaryExpr)  # right-associative
    left = parse("a - b - c")
    assert isinstance(left, BinaryExpr)
    assert isinstance(left.lhs, BinaryExpr)
    assert parse("a or b and c unless d").op == "or"  # type: ignore[attr-defined]


def test_unary_minus_binds_looser_than_power() -> None:
    tree = parse("-x ^ 2")
    assert isinstance(tree, UnaryExpr)
    assert isinstance(tree.expr, BinaryExpr)
    assert tree.expr.op == "^"
    assert parse("-2") == NumberLiteral(0, -2.0)


def test_vector_matching_modifiers() -> None:
    tree = parse("a > bool on (job) group_left (team) b")
    assert isinstance(tree, BinaryExpr)
    assert tree.bool_modifier
    assert tree.matching is not None
    assert (tree.matching.card, tree.matching.on) == ("many-to-one", True)
    assert tree.matching.labels == ("job",)
    assert tree.matching.include == ("team",)
    ignoring = parse("a / ignoring(code) group_right b")
    assert isinstance(ignoring, BinaryExpr)
    assert ignoring.matching is not None
    assert ignoring.matching.card == "one-to-many"
    assert not ignoring.matching.on


def test_literals() -> None:
    assert value_type(parse('"text"')) is ValueType.STRING
    assert value_type(parse("'single' ")) is ValueType.STRING
    assert value_type(parse("`raw\\n`")) is ValueType.STRING
    for text, value in [("0x1F", 31.0), ("1e3", 1000.0), (".5", 0.5), ("Inf", float("inf"))]:
        tree = parse(text)
        assert isinstance(tree, NumberLiteral)
        assert tree.value == value
    nan = parse("NaN")
    assert isinstance(nan, NumberLiteral)
    assert nan.value != nan.value


def test_strings_escapes() -> None:
    tree = parse(r'x{a="q\"uote\n\u00e9"}')
    assert isinstance(tree, VectorSelector)
    assert tree.label_matchers()[0].value == 'q"uote\né'


def test_durations() -> None:
    assert parse_duration("1h30m") == 5400
    assert parse_duration("250ms") == 0.25
    assert parse_duration("2w") == 14 * 86400
    assert format_duration(5400) == "1h30m"
    assert format_duration(0.25) == "250ms"
    for bad in ("5", "1m1h", "h", "1.5m", ""):
        with pytest.raises(ValueError, match="duration"):
            parse_duration(bad)


def test_comments_are_ignored() -> None:
    tree = parse("sum(x) # a comment\n > 1")
    assert isinstance(tree, BinaryExpr)


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("rate(foo)", "must be a range vector", 6),
        ("sum(", "unexpected end of input", 5),
        ("foo[5m", "expected ']'", 7),
        ("{}", "at least one non-empty matcher", 1),
        ('{a=""}', "at least one non-empty matcher", 1),
        ("foo{a=1}", "quoted string", 7),
        ("1 < 2", "bool modifier", 3),
        ("foo bar", "after a complete expression", 5),
        ("nofunc(x)", "unknown function 'nofunc'", 1),
        ("foo[5m][5m]", "ranges only allowed for vector selectors", 8),
        ("x offset 5m offset 1m", "offset may not be set multiple times", 13),
        ('rate(x[5m]) + "s"', "only scalar and instant vector", 13),
        ("a and 1", "set operator", 3),
        ("foo[0s]", "greater than 0", 4),
        ("5m", "unexpected duration", 1),
        ("sum by (a) (x) by (b)", "two by/without", 16),
        ("x[1m5h]", "largest to smallest", 3),
        ('x{a=~"("}', "invalid regular expression", 4),
        ("histogram_quantile(x)", "takes 2 argument", 1),
        ("a + bool b", "bool modifier can only be used on comparison", 5),
        ("a and on(x) group_left b", "no grouping allowed", 13),
        ("a * group_left b", "on(...) or ignoring(...)", 5),
        ("topk(x)", "takes 2 argument", 1),
        ('"a" ', None, None),
        ("x @ foo", "@ needs", 5),
        ("abs(x[5m])", "must be an instant vector", 5),
        ("sum(x[5m])", "expects an instant vector", 5),
        ("x[5m:1m][1m]", "ranges only allowed", 9),
        ("1 +", "unexpected end of input", 4),
        ('x{a="b"', "expected '}'", 8),
        ('x{a="b\nc"}', "unterminated string", 5),
        ("x ~ 1", "unexpected character", 3),
    ],
)
def test_errors_say_what_and_where(text: str, message: str | None, column: int | None) -> None:
    if message is None:
        parse(text)  # a lone string is a valid expression
        return
    with pytest.raises(PromQLError) as caught:
        parse(text)
    assert message in caught.value.message
    assert caught.value.column == column
    assert caught.value.line == 1


def test_error_line_and_column_on_later_lines() -> None:
    with pytest.raises(PromQLError) as caught:
        parse("sum(\n  rate(x[5m])\n) > > 1")
    assert (caught.value.line, caught.value.column) == (3, 5)


def test_analysis_collects_what_an_expression_uses() -> None:
    analysis = analyze(
        'histogram_quantile(0.9, sum by (le, job) (rate(req_bucket{code=~"5.."}[5m])))'
        " > on(job) group_left max(limit) without (instance) and absent(y)"
    )
    assert analysis.metric_names == {"req_bucket", "limit", "y"}
    assert [f.name for f in analysis.functions] == ["histogram_quantile", "rate", "absent"]
    assert [(a.op, a.grouping, a.without) for a in analysis.aggregations] == [
        ("sum", ("le", "job"), False),
        ("max", ("instance",), True),
    ]
    assert [(r.seconds, r.kind) for r in analysis.ranges] == [(300, "range")]
    assert analysis.label_names == {"code", "le", "job", "instance"}
    assert analysis.has_comparison
    bucket = analysis.selectors[0]
    assert (bucket.function, bucket.range_seconds, bucket.aggregations) == ("rate", 300, ("sum",))


def test_output_labels() -> None:
    assert output_labels(parse("sum by (job) (x)")).has("job") is None
    assert output_labels(parse("sum by (job) (x)")).has("instance") is False
    assert output_labels(parse("sum without (le) (x)")).has("le") is False
    assert output_labels(parse("sum without (le) (x)")).has("job") is None
    assert output_labels(parse('x{job="a"}')).has("job") is True
    assert output_labels(parse("histogram_quantile(0.9, x)")).has("le") is False
    replaced = output_labels(parse('label_replace(sum(x), "svc", "$1", "job", "(.*)")'))
    assert replaced.has("svc") is None
    assert replaced.has("job") is False
    assert output_labels(parse("a / on(job) b")).has("instance") is False
    assert output_labels(parse("a / ignoring(code) b")).has("code") is False
    assert output_labels(parse('absent(x{job="a"})')).has("job") is None
    assert output_labels(parse('absent(x{job="a"})')).has("instance") is False
    assert output_labels(parse("sum(a) or sum by (x) (b)")).has("x") is None
    assert output_labels(parse("vector(1)")).has("job") is False


def test_tokens_keep_positions() -> None:
    tokens = tokenize("sum(x) > 1")
    assert [(t.kind, t.text, t.pos) for t in tokens][:3] == [
        ("ident", "sum", 0),
        ("op", "(", 3),
        ("ident", "x", 4),
    ]
    assert tokens[-1].kind == "eof"


def test_metric_names_with_colons_and_keywords_as_labels() -> None:
    tree = parse('job:rate5m:sum{on="x", by="y"}[5m:1m]')
    assert isinstance(tree, SubqueryExpr)
    inner = tree.expr
    assert isinstance(inner, VectorSelector)
    assert inner.name == "job:rate5m:sum"
