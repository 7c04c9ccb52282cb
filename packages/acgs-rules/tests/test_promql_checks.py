"""The PromQL checks (acgs_promql.checks) as the rule linter runs them: recorded series,
exporter lists, settings, and every behaviour merged with the dashboard linter's (each check's
doc page says "Changed")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from acgs_promql.findings import Severity
from acgs_rules.settings import LintSettings

Linter = Callable[..., Any]
AlertFile = Callable[..., str]


def test_extra_metrics_setting_makes_names_known(lint_text: Linter, alert_file: AlertFile) -> None:
    text = alert_file("rate(myapp_jobs_total[5m]) > 1")
    settings = LintSettings(extra_metrics=("myapp_.*",))
    assert lint_text(text, "promql/unknown-metric", settings=settings) == []


def test_recorded_metrics_are_known_and_delay_the_range(
    lint_text: Linter, alert_file: AlertFile
) -> None:
    text = """\
groups:
  - name: rec
    interval: 1m
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
  - name: alerts
    rules:
      - alert: A
        expr: avg_over_time(job:up:sum[1m]) < 1
        for: 5m
        labels: {severity: warning}
        annotations: {summary: s, description: d, runbook_url: https://x.org}
"""
    assert lint_text(text, "promql/unknown-metric") == []
    (window,) = lint_text(text, "promql/range-window")
    assert window.severity is Severity.WARNING  # an _over_time function, not rate
    assert "at least [2m]" in window.message  # recorded every 1m, whatever its sources


def test_recorded_series_are_spaced_by_their_group_interval(lint_text: Linter) -> None:
    # Written every 5s evaluation, read from another group: [30s] holds six samples.
    text = """\
groups:
  - name: rec
    rules:
      - record: instance:node_cpu_busy:rate1m
        expr: sum by (instance) (rate(node_cpu_seconds_total{mode!="idle"}[1m]))
  - name: alerts
    rules:
      - alert: A
        expr: deriv(instance:node_cpu_busy:rate1m[30s]) > 0.1
        for: 5m
        labels: {severity: warning}
        annotations: {summary: s, description: d, runbook_url: https://x.org}
      - alert: B
        expr: rate(instance:node_cpu_busy:rate1m[8s]) > 0.1
        for: 5m
        labels: {severity: warning}
        annotations: {summary: s, description: d, runbook_url: https://x.org}
"""
    (window,) = lint_text(text, "promql/range-window")
    assert window.rule == "B"
    assert window.severity is Severity.ERROR
    assert "at least [10s]" in window.message


def test_histogram_le_aggregated_away_in_a_recording_rule(lint_text: Linter) -> None:
    text = """\
groups:
  - name: rec
    rules:
      - record: job:acgs_policy_synthesis_duration_seconds_bucket:rate5m
        expr: sum by (job) (rate(acgs_policy_synthesis_duration_seconds_bucket[5m]))
      - record: le:acgs_policy_synthesis_duration_seconds_bucket:rate5m
        expr: sum by (job, le) (rate(acgs_policy_synthesis_duration_seconds_bucket[5m]))
  - name: alerts
    rules:
      - alert: Bad
        expr: histogram_quantile(0.9, job:acgs_policy_synthesis_duration_seconds_bucket:rate5m) > 1
        for: 5m
        labels: {severity: warning}
        annotations: {summary: s, description: d, runbook_url: https://x.org}
      - alert: Good
        expr: histogram_quantile(0.9, le:acgs_policy_synthesis_duration_seconds_bucket:rate5m) > 1
        for: 5m
        labels: {severity: warning}
        annotations: {summary: s, description: d, runbook_url: https://x.org}
"""
    found = [f for f in lint_text(text, "promql/histogram") if "'le'" in f.message]
    assert [f.rule for f in found] == ["Bad"]


def test_exporter_metrics_missing_from_the_lists_are_warnings(
    lint_text: Linter, alert_file: AlertFile
) -> None:
    (finding,) = lint_text(alert_file("node_systemd_unit_state == 1"), "promql/unknown-metric")
    assert finding.severity is Severity.WARNING
    assert "node_exporter" in finding.message


def test_raw_counter_ratio_is_a_warning(lint_text: Linter, alert_file: AlertFile) -> None:
    expr = 'sum(acgs_http_requests_total{status_code=~"5.."}) / sum(acgs_http_requests_total) > 0.1'
    found = lint_text(alert_file(expr), "promql/counter")
    assert {f.severity for f in found} == {Severity.WARNING}
    assert "ratio" in found[0].message


def test_unknown_foreign_metric_is_a_warning_that_says_how_to_declare_it(
    lint_text: Linter, alert_file: AlertFile
) -> None:
    (foreign,) = lint_text(alert_file("rate(myapp_jobs_total[5m]) > 1"), "promql/unknown-metric")
    assert foreign.severity is Severity.WARNING
    assert "extra_metrics" in foreign.message
    (ours,) = lint_text(alert_file("rate(acgs_jobs_total[5m]) > 1"), "promql/unknown-metric")
    assert ours.severity is Severity.ERROR


def test_counter_functions_on_native_histograms_are_fine(
    lint_text: Linter, alert_file: AlertFile
) -> None:
    native = (
        "histogram_quantile(0.9, sum by (job) (rate(prometheus_http_request_duration_seconds[5m])))"
    )
    text = alert_file(f"{native} > 1")
    assert lint_text(text, "promql/counter", "promql/histogram") == []
    # Only histogram families are exempt: rate() on a gauge is still an error.
    gauge = lint_text(alert_file("rate(node_load1[5m]) > 1"), "promql/counter")
    assert [f.severity for f in gauge] == [Severity.ERROR]


def test_gauge_functions_on_counters_are_warnings(lint_text: Linter, alert_file: AlertFile) -> None:
    (finding,) = lint_text(alert_file("deriv(acgs_http_requests_total[5m]) > 1"), "promql/counter")
    assert finding.severity is Severity.WARNING
    assert "ignores counter resets" in finding.message


def test_raw_counter_is_judged_at_its_nearest_comparison(
    lint_text: Linter, alert_file: AlertFile
) -> None:
    # The inner comparison fires forever: the ratio around it does not soften that.
    expr = "(acgs_http_requests_total > 100) / acgs_active_sessions > 0"
    (finding,) = lint_text(alert_file(expr), "promql/counter")
    assert finding.severity is Severity.ERROR
    assert "compared raw" in finding.message


def test_histogram_judges_only_the_selectors_that_supply_values(
    lint_text: Linter, alert_file: AlertFile
) -> None:
    joined = (
        "histogram_quantile(0.9, sum by (le, instance) "
        "(rate(acgs_http_request_duration_seconds_bucket[5m])) * on (instance) group_left () up)"
    )
    assert lint_text(alert_file(f"{joined} > 1"), "promql/histogram") == []
    normalised = (
        "histogram_quantile(0.9, rate(acgs_http_request_duration_seconds_bucket[5m]) "
        "/ scalar(sum(rate(acgs_http_request_duration_seconds_count[5m]))))"
    )
    assert lint_text(alert_file(f"{normalised} > 1"), "promql/histogram") == []
    # Without buckets beside it, a _count series is still not a histogram.
    alone = "histogram_quantile(0.9, rate(acgs_http_request_duration_seconds_count[5m]))"
    assert lint_text(alert_file(f"{alone} > 1"), "promql/histogram")


def test_native_histograms_need_no_le(lint_text: Linter, alert_file: AlertFile) -> None:
    expr = (
        "histogram_quantile(0.9, "
        "sum by (job) (rate(alertmanager_http_request_duration_seconds[5m])))"
    )
    assert lint_text(alert_file(f"{expr} > 1"), "promql/histogram") == []


def test_raw_buckets_of_unknown_exporters_are_warned(
    lint_text: Linter, alert_file: AlertFile
) -> None:
    found = lint_text(alert_file("histogram_quantile(0.9, myapp_latency_seconds_bucket) > 1"))
    (raw,) = [f for f in found if f.check == "promql/histogram"]
    assert raw.severity is Severity.WARNING
    assert "over raw myapp_latency_seconds_bucket" in raw.message


def test_a_counter_under_a_rate_or_a_quantile_is_not_raw(
    lint_text: Linter, alert_file: AlertFile
) -> None:
    summed = "rate(sum by (service) (acgs_http_requests_total)[5m:]) > 10"
    (finding,) = lint_text(alert_file(summed), "promql/counter")
    assert "take the rate first" in finding.message
    raw_buckets = (
        "histogram_quantile(0.9, sum by (le) (acgs_http_request_duration_seconds_bucket)) > 1"
    )
    assert lint_text(alert_file(raw_buckets), "promql/counter") == []
    (histogram,) = lint_text(alert_file(raw_buckets), "promql/histogram")
    assert histogram.severity is Severity.WARNING
