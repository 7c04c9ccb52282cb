"""Each PromQL check: one behaviour for every linter, given the expression's role.

Cases are (check, role, expression, severities of the problems it finds, a fragment of the
first message). The rule and dashboard linters' own tests check the same cases end to end.
"""

from __future__ import annotations

import pytest

from acgs_promql.checks.base import CheckOptions, Problem
from acgs_promql.checks.registry import BY_NAME, CHECKS
from acgs_promql.expression import Expression, Role
from acgs_promql.findings import Severity
from acgs_promql.index import MetricIndex, RecordedSeries
from acgs_promql.live.view import LiveMetric, LiveView
from acgs_promql.tree import VectorSelector

E, W = Severity.ERROR, Severity.WARNING
ALERT, RECORD, PANEL, INSTANT = Role.ALERT, Role.RECORD, Role.PANEL, Role.INSTANT
RECORDED = [
    RecordedSeries(
        "acgs:latency:rate5m",
        Expression(
            "sum by (service) (rate(acgs_http_request_duration_seconds_bucket[5m]))", RECORD
        ),
    ),
    RecordedSeries(
        "acgs:native:rate5m",
        Expression("sum by (job) (rate(prometheus_http_request_duration_seconds[5m]))", RECORD),
        {"team": "obs"},
    ),
]
INDEX = MetricIndex(recorded=RECORDED)


def _spacing(selector: VectorSelector) -> float:
    return 30.0 if selector.name == "acgs:latency:rate5m" else 15.0


# What a live Prometheus answered (the live tests fetch the same from a real server).
LIVE = LiveView(
    "http://prom:9090",
    3600.0,
    {},
    {
        "demo_flag": LiveMetric("demo_flag", 2, {"instance": frozenset({"a", "b"})}),
        "gone": LiveMetric("gone", 0, {}),
        "node_load1": LiveMetric("node_load1", 0, {}),
        "acgs:latency:rate5m": LiveMetric("acgs:latency:rate5m", 0, {}),
    },
    {},
)
OPTIONS = CheckOptions(
    extra_metrics=("myapp_.*",),
    declare_hint="declare it",
    placeholder="var_",
    sample_interval=_spacing,
    live=LIVE,
)

CASES = [
    # promql/syntax: parse errors everywhere; the result type by role.
    ("promql/syntax", ALERT, "sum(rate(x[5m])", [E], "invalid PromQL"),
    ("promql/syntax", RECORD, "up[5m]", [E], "every evaluation fails"),
    ("promql/syntax", PANEL, '"text"', [E], "the panel shows an error"),
    ("promql/syntax", INSTANT, "up[5m]", [], ""),
    ("promql/syntax", INSTANT, "up", [], ""),
    # promql/compat: versions.
    ("promql/compat", ALERT, "limitk(1, up)", [E], "needs Prometheus 3.0"),
    ("promql/compat", PANEL, "holt_winters(up[1h], 0.5, 0.5)", [E], "not available"),
    # promql/unknown-metric: authority decides the severity.
    ("promql/unknown-metric", ALERT, "acgs_nope_total", [E], "unknown metric"),
    ("promql/unknown-metric", PANEL, "acgs:nope:rate5m", [E], "unknown metric"),
    ("promql/unknown-metric", ALERT, "node_nope", [W], "known metric list of node_exporter"),
    ("promql/unknown-metric", PANEL, "kube_pod_info", [W], "declare it"),
    ("promql/unknown-metric", PANEL, "myapp_jobs_total + var_metric", [], ""),
    ("promql/unknown-metric", PANEL, "acgs_nope_total / acgs_nope_total", [E], "unknown"),
    # promql/unknown-label.
    ("promql/unknown-label", ALERT, 'acgs_active_sessions{route="x"}', [E], "has no label"),
    ("promql/unknown-label", PANEL, 'acgs_active_sessions{service="x"}', [E], "no allowed"),
    ("promql/unknown-label", PANEL, "sum by (pod) (acgs_active_sessions)", [E], "'pod'"),
    ("promql/unknown-label", PANEL, 'acgs_active_sessions{service="var_s", var_l="x"}', [], ""),
    ("promql/unknown-label", PANEL, "sum by (var_g) (acgs_active_sessions)", [], ""),
    ("promql/unknown-label", PANEL, 'label_replace(up, "a", "", "", "") ', [], ""),
    # promql/counter: everywhere, then by role.
    ("promql/counter", RECORD, "rate(acgs_active_sessions[5m])", [E], "a gauge"),
    ("promql/counter", INSTANT, "deriv(acgs_http_requests_total[5m])", [W], "resets"),
    ("promql/counter", INSTANT, "rate(sum(acgs_http_requests_total)[5m:])", [E], "first"),
    ("promql/counter", PANEL, "rate(prometheus_http_request_duration_seconds[5m])", [], ""),
    ("promql/counter", ALERT, "acgs_http_requests_total > 5", [E], "compared raw"),
    ("promql/counter", ALERT, "sum(acgs_http_requests_total) / 2 > 5", [W], "ratio"),
    ("promql/counter", ALERT, "count(acgs_http_requests_total) > 5", [], ""),
    ("promql/counter", ALERT, "acgs_http_requests_total", [], ""),
    ("promql/counter", RECORD, "acgs_http_requests_total > 5", [], ""),
    ("promql/counter", PANEL, "acgs_http_requests_total", [W], "$__rate_interval"),
    ("promql/counter", INSTANT, "acgs_http_requests_total", [], ""),
    ("promql/counter", PANEL, "x_total - acgs_http_requests_total offset 1h", [], ""),
    # promql/histogram: value side, native histograms, recorded series.
    ("promql/histogram", PANEL, "histogram_quantile(2, x_bucket)", [E, W], "outside 0..1"),
    ("promql/histogram", ALERT, "histogram_quantile(0.9, acgs:latency:rate5m)", [E], "'le'"),
    ("promql/histogram", PANEL, "histogram_quantile(0.9, acgs:native:rate5m)", [], ""),
    (
        "promql/histogram",
        INSTANT,
        "histogram_quantile(0.9, rate(acgs_http_request_duration_seconds_sum[5m]))",
        [E],
        "use acgs_http_request_duration_seconds_bucket",
    ),
    (
        "promql/histogram",
        PANEL,
        "histogram_quantile(0.9, rate(x_bucket[5m]) and on () acgs_active_sessions)",
        [],
        "",
    ),
    # promql/range-window: the caller's sample spacing.
    ("promql/range-window", ALERT, "rate(up[20s])", [E], "at least [30s]"),
    ("promql/range-window", ALERT, "max_over_time(acgs:latency:rate5m[50s])", [W], "[1m]"),
    ("promql/range-window", ALERT, "rate(up[30s])", [], ""),
    # promql/series: what the live Prometheus has; absence planned for; recorded here.
    ("promql/series", ALERT, "gone > 1", [E], "'gone' has no series in http://prom:9090"),
    ("promql/series", ALERT, "node_load1 > 4", [W], "exporter list node_exporter knows"),
    ("promql/series", ALERT, "absent(gone) or demo_flag", [], ""),
    ("promql/series", ALERT, "acgs:latency:rate5m > 1", [], ""),
    ("promql/series", PANEL, "var_metric + demo_flag + never_asked", [], ""),
    # promql/label-value: values seen there.
    ("promql/label-value", ALERT, 'demo_flag{instance="c"}', [W], "values seen: 'a', 'b'"),
    ("promql/label-value", ALERT, 'demo_flag{zone=~"eu.*"}', [W], "labels seen: instance"),
    ("promql/label-value", ALERT, 'demo_flag{instance=~"a|z", job!="x", zone=""}', [], ""),
    ("promql/label-value", PANEL, 'demo_flag{instance="var_i"}', [], ""),
    ("promql/label-value", ALERT, 'gone{instance="c"}', [], ""),
]


def _problems(check: str, role: Role, text: str, options: CheckOptions = OPTIONS) -> list[Problem]:
    return BY_NAME[check].run(Expression(text, role), INDEX, options)


@pytest.mark.parametrize(("check", "role", "text", "severities", "fragment"), CASES)
def test_check(
    check: str, role: Role, text: str, severities: list[Severity], fragment: str
) -> None:
    problems = _problems(check, role, text)
    assert [p.severity for p in problems] == severities, problems
    if problems:
        assert fragment in problems[0].message
        assert all(p.position is None or 0 <= p.position <= len(text) for p in problems)


def test_every_registered_check_has_a_case() -> None:
    assert {case[0] for case in CASES} == {check.name for check in CHECKS}


def test_positions_point_at_the_node() -> None:
    text = "sum(up)\n  + rate(acgs_active_sessions[5m])"
    (problem,) = _problems("promql/counter", PANEL, text)
    assert problem.position == text.index("acgs_active_sessions")
    (whole,) = _problems("promql/syntax", ALERT, "up[5m]")
    assert whole.position is None  # about the expression as a whole


def test_what_the_dashboard_linter_knows_about_the_text() -> None:
    undefined = Expression('up{job="$jobb"}', PANEL, undefined_variables=("jobb",))
    (problem,) = BY_NAME["promql/syntax"].run(undefined, INDEX, OPTIONS)
    assert "$jobb" in problem.message
    maybe_logql = Expression('{job="x"} |= "error"', PANEL, surely_promql=False)
    (warning,) = BY_NAME["promql/syntax"].run(maybe_logql, INDEX, OPTIONS)
    assert warning.severity is Severity.WARNING
    expanded = Expression("sum(x", PANEL, original="sum($metric")
    (error,) = BY_NAME["promql/syntax"].run(expanded, INDEX, OPTIONS)
    assert "after expanding variables: sum(x" in error.message


def test_range_window_needs_the_sample_spacing() -> None:
    assert _problems("promql/range-window", ALERT, "rate(up[1s])", CheckOptions()) == []


def test_one_walk_per_expression() -> None:
    expression = Expression("sum by (job) (rate(acgs_http_requests_total[5m])) > 1", ALERT)
    walked = expression.walk
    for check in CHECKS:
        check.run(expression, INDEX, OPTIONS)
    assert expression.walk is walked
    assert expression.analysis is not None
    assert expression.analysis.metric_names == {"acgs_http_requests_total"}
