"""Each static check: it catches its mistake, and stays quiet on the correct rule."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from acgs_promql.findings import Severity
from acgs_rules.lint import lint
from acgs_rules.promtool import run_unit_tests
from acgs_rules.settings import LintSettings

Linter = Callable[..., Any]
AlertFile = Callable[..., str]

# (check, bad expression, fragment of the message, a correct expression for the same intent)
EXPRESSION_CASES = [
    ("promql/syntax", "sum(rate(x[5m])", "invalid PromQL", "sum(rate(up[5m])) > 1"),
    ("promql/syntax", "up[5m]", "returns a range vector", "max_over_time(up[5m]) > 0"),
    ("promql/syntax", 'up[5m:1m] or "x"', "invalid PromQL", "vector(1)"),
    ("promql/syntax", '"down"', "returns a string", "sum(up) > 0"),
    (
        "promql/unknown-metric",
        "rate(acgs_http_request_total[5m]) > 1",
        "did you mean 'acgs_http_requests_total'",
        "rate(acgs_http_requests_total[5m]) > 1",
    ),
    (
        "promql/unknown-metric",
        "rate(myapp_jobs_total[5m]) > 1",
        "unknown metric 'myapp_jobs_total'",
        "rate(node_network_receive_errs_total[5m]) > 1",
    ),
    (
        "promql/unknown-label",
        'acgs_constitutional_compliance_score{principle="P1"} < 0.8',
        "has no label 'principle'",
        'acgs_constitutional_compliance_score{principle_id="P1", job="acgs-ac"} < 0.8',
    ),
    (
        "promql/unknown-label",
        'acgs_constitutional_compliance_score{service="governance"} < 0.8',
        "matches no allowed value",
        'acgs_constitutional_compliance_score{service=~"gs|pgc"} < 0.8',
    ),
    (
        "promql/unknown-label",
        "sum by (endpoint) (acgs_governance_action_cost_sol) > 1",
        "has a label 'endpoint'",
        "sum by (action_type, instance) (acgs_governance_action_cost_sol) > 1",
    ),
    (
        "promql/counter",
        "rate(acgs_active_sessions[5m]) > 1",
        "a gauge",
        "deriv(acgs_active_sessions[5m]) > 1",
    ),
    (
        "promql/counter",
        "acgs_metrics_cardinality_overflow_total > 0",
        "compared raw",
        "increase(acgs_metrics_cardinality_overflow_total[5m]) > 0",
    ),
    (
        "promql/counter",
        "sum by (service) (acgs_http_requests_total) > 100",
        "compared raw",
        "acgs_http_requests_total - acgs_http_requests_total offset 1h > 100",
    ),
    (
        "promql/histogram",
        "histogram_quantile(0.9, rate(acgs_http_request_duration_seconds_sum[5m])) > 1",
        "use acgs_http_request_duration_seconds_bucket",
        "histogram_quantile(0.9, rate(acgs_http_request_duration_seconds_bucket[5m])) > 1",
    ),
    (
        "promql/histogram",
        "histogram_quantile(0.9, sum by (service) "
        "(rate(acgs_http_request_duration_seconds_bucket[5m]))) > 1",
        "aggregates it away",
        "histogram_quantile(0.9, sum by (service, le) "
        "(rate(acgs_http_request_duration_seconds_bucket[5m]))) > 1",
    ),
    (
        "promql/histogram",
        "histogram_quantile(95, rate(acgs_http_request_duration_seconds_bucket[5m])) > 1",
        "outside 0..1",
        "histogram_quantile(0.95, rate(acgs_http_request_duration_seconds_bucket[5m])) > 1",
    ),
    (
        "promql/range-window",
        "rate(node_cpu_seconds_total[20s]) > 1",
        "at least [30s]",
        "rate(node_cpu_seconds_total[30s]) > 1",
    ),
    (
        "promql/range-window",
        "rate(acgs_http_requests_total[8s]) > 1",
        "at least [10s]",
        "rate(acgs_http_requests_total[10s]) > 1",
    ),
    (
        "promql/compat",
        "mad_over_time(up[5m]) > 1",
        "needs Prometheus 2.46",
        "stddev_over_time(up[5m]) > 1",
    ),
    (
        "promql/compat",
        "holt_winters(node_load1[1h], 0.5, 0.5) > 1",
        "not available in Prometheus 3",
        "predict_linear(node_load1[1h], 3600) > 1",
    ),
    ("alert/comparison", "rate(up[5m])", "has no condition", "rate(up[5m]) > 0"),
    ("alert/comparison", "up > bool 0", "has no condition", "up == 0"),
    (
        "alert/comparison",
        "acgs_constitutional_compliance_score > 1",
        "can never be true",
        "acgs_constitutional_compliance_score >= 1",
    ),
    (
        "alert/comparison",
        "sum(rate(acgs_http_requests_total[5m])) < 0",
        "can never be true",
        "sum(rate(acgs_http_requests_total[5m])) <= 0",
    ),
    ("alert/comparison", "absent(up) == 0", "can never be true", "absent(up)"),
    ("alert/comparison", "up > 1", "can never be true", "up < 1"),
    # A filtering comparison keeps the vector side: rate above 10 can happen.
    (
        "alert/comparison",
        "(0 < rate(up[5m])) < 0",
        "can never be true",
        "(0 < rate(node_cpu_seconds_total[5m])) > 10",
    ),
    # Reading no metric is the watchdog pattern; reading one without a condition is not.
    ("alert/comparison", "sum(up)", "has no condition", "vector(1)"),
    (
        "alert/comparison",
        "histogram_quantile(0.99, sum by (le) "
        "(rate(acgs_policy_synthesis_duration_seconds_bucket[5m]))) > 600",
        "the left side is always 0..300",
        "histogram_quantile(0.99, sum by (le) "
        "(rate(acgs_policy_synthesis_duration_seconds_bucket[5m]))) > 120",
    ),
    (
        "promql/counter",
        "rate(sum by (service) (acgs_http_requests_total)[5m:]) > 10",
        "take the rate first",
        "sum by (service) (rate(acgs_http_requests_total[5m])) > 10",
    ),
]


@pytest.mark.parametrize(("check", "bad", "fragment", "good"), EXPRESSION_CASES)
def test_check_catches_the_mistake(
    lint_text: Linter, alert_file: AlertFile, check: str, bad: str, fragment: str, good: str
) -> None:
    found = lint_text(alert_file(bad), check)
    assert found, f"{check} missed: {bad}"
    assert any(fragment in f.message for f in found), [f.message for f in found]
    assert all(f.rule == "A" and f.line >= 4 for f in found)


@pytest.mark.parametrize(("check", "bad", "fragment", "good"), EXPRESSION_CASES)
def test_check_is_quiet_on_the_correct_rule(
    lint_text: Linter, alert_file: AlertFile, check: str, bad: str, fragment: str, good: str
) -> None:
    assert lint_text(alert_file(good), check) == []


def test_error_lines_point_into_block_expressions(lint_text: Linter, alert_file: AlertFile) -> None:
    text = alert_file("sum(rate(up[5m]))\n  > 1\nand nofunc(up)")
    (finding,) = lint_text(text, "promql/syntax")
    assert finding.line == 8  # the third line of the block scalar starting on line 6
    assert "unknown function 'nofunc'" in finding.message


def test_duplicates(lint_text: Linter, alert_file: AlertFile) -> None:
    rule = alert_file("up == 0")
    text = rule + rule.split("rules:\n", 1)[1]  # the same alert twice in one group
    text += "  - name: g\n    rules: []\n"
    found = lint_text(text, "rules/duplicate")
    messages = sorted(f.message for f in found)
    assert len(found) == 2
    assert messages[0].startswith("duplicate alert 'A' (severity=warning)")
    assert messages[1].startswith("duplicate group name 'g'")


def test_same_alert_name_with_other_labels_is_fine(
    lint_text: Linter, alert_file: AlertFile
) -> None:
    first = alert_file("up == 0")
    second = first.split("rules:\n", 1)[1].replace("severity: warning", "severity: critical")
    assert lint_text(first + second, "rules/duplicate") == []


def test_required_labels_annotations_and_severity(lint_text: Linter, alert_file: AlertFile) -> None:
    text = """\
groups:
  - name: g
    rules:
      - alert: A
        expr: up == 0
        for: 1m
        labels: {severity: page}
        annotations: {summary: "", description: d}
"""
    messages = sorted(f.message for f in lint_text(text, "alert/required"))
    assert messages == [
        "alert has no 'runbook_url' annotation",
        "alert has no 'summary' annotation",
        "severity 'page' is not one of critical, warning, info",
    ]


@pytest.mark.parametrize(
    ("annotation", "fragment"),
    [
        ("{{ $labels.instance }", "without a closing"),
        ("{{ if $value }}high", "never closed"),
        ("{{ end }}", "without an open"),
        ("{{ $lables.job }}", "undefined variable $lables"),
        ("{{ $value | humanise }}", "function 'humanise' not defined"),
        ("{{ $labels.instance }} is down", "has no 'instance' label"),
    ],
)
def test_template_problems(
    lint_text: Linter, alert_file: AlertFile, annotation: str, fragment: str
) -> None:
    text = alert_file("sum by (job) (up) == 0").replace('summary: "s"', f"summary: '{annotation}'")
    found = lint_text(text, "alert/template")
    assert any(fragment in f.message for f in found), [f.message for f in found]


RECORDED_BY_SERVICE = """\
groups:
  - name: rec
    rules:
      - record: service:acgs_http_errors:rate5m
        expr: sum by (service) (rate(acgs_http_requests_total{status=~"5.."}[5m]))
        labels: {team: governance}
      - record: service:acgs_http_errors:ratio
        expr: service:acgs_http_errors:rate5m / 2
  - name: alerts
    rules:
      - alert: A
        expr: service:acgs_http_errors:ratio > 0.05
        for: 5m
        labels: {severity: warning}
        annotations:
          summary: "SUMMARY"
          description: d
          runbook_url: https://x.org
"""


@pytest.mark.parametrize(
    ("summary", "missing"),
    [
        ("{{ $labels.instance }} errors", "instance"),
        ("{{ $labels.service }} of {{ $labels.team }} on {{ $labels.job }}", "job"),
        ("{{ $labels.service }} of {{ $labels.team }}", None),
    ],
)
def test_labels_follow_recorded_metrics_to_their_recording_rule(
    lint_text: Linter, summary: str, missing: str | None
) -> None:
    found = lint_text(RECORDED_BY_SERVICE.replace("SUMMARY", summary), "alert/template")
    if missing is None:
        assert found == []
    else:
        (finding,) = found
        assert f"$labels.{missing}," in finding.message


def test_valid_templates_pass(lint_text: Linter, alert_file: AlertFile) -> None:
    summary = (
        "{{ $labels.job }} at {{ $value | humanizePercentage }}"
        "{{ if gt $value 1.0 }} high{{ else }} low{{ end }}"
        '{{ range $i, $e := query "up" }}{{ $e.Labels.job }}{{ end }}'
        '{{ with $x := "a" }}{{ $x | toUpper }}{{ end }}{{/* note */}}'
    )
    text = alert_file("sum by (job) (up) == 0").replace('summary: "s"', f"summary: '{summary}'")
    assert lint_text(text, "alert/template") == []


def test_for_missing_short_and_below_interval(lint_text: Linter, alert_file: AlertFile) -> None:
    missing = lint_text(alert_file("up == 0", for_=""), "alert/for")
    assert [f.severity for f in missing] == [Severity.WARNING]
    assert "has no 'for'" in missing[0].message
    short = lint_text(alert_file("up == 0", for_="for: 5s"), "alert/for")
    assert "shorter than the 15s minimum" in short[0].message
    settings = LintSettings(min_for={}, evaluation_interval=30)
    below = lint_text(alert_file("up == 0", for_="for: 10s"), "alert/for", settings=settings)
    assert "shorter than the group's evaluation interval (30s)" in below[0].message
    assert lint_text(alert_file("up == 0", for_="for: 1m"), "alert/for") == []


def test_group_interval(lint_text: Linter, alert_file: AlertFile) -> None:
    text = alert_file("up == 0").replace("  - name: g\n", "  - name: g\n    interval: 5m\n")
    (finding,) = lint_text(text, "group/interval")
    assert finding.line == 3
    assert "every 5m" in finding.message
    assert lint_text(alert_file("up == 0"), "group/interval") == []


def test_detection_latency(lint_text: Linter, alert_file: AlertFile) -> None:
    text = alert_file("up == 0", for_="for: 1m").replace("severity: warning", "severity: critical")
    (finding,) = lint_text(text, "alert/detection-latency")
    assert "1m25s (scrape 15s + evaluation 5s + for 1m + group_wait 5s)" in finding.message
    fast = text.replace("for: 1m", "for: 5s")
    assert lint_text(fast, "alert/detection-latency") == []


def test_silencing_comment_for_one_rule(lint_text: Linter, alert_file: AlertFile) -> None:
    bad = alert_file("acgs_metrics_cardinality_overflow_total > 0")
    silenced = bad.replace(
        "      - alert: A\n", "      # acgs-rules disable=promql/counter\n      - alert: A\n"
    )
    assert lint_text(bad, "promql/counter")
    assert lint_text(silenced, "promql/counter") == []
    file_wide = "# acgs-rules file-disable=promql/counter,alert/for\n" + bad
    assert lint_text(file_wide, "promql/counter") == []


def test_no_false_errors_on_a_typical_correct_rule_set(
    lint_text: Linter, alert_file: AlertFile
) -> None:
    text = """\
groups:
  - name: typical
    rules:
      - record: instance:node_cpu:rate5m
        expr: 1 - avg without (cpu, mode) (rate(node_cpu_seconds_total{mode="idle"}[5m]))
      - alert: HostHighCpu
        expr: instance:node_cpu:rate5m > 0.9
        for: 10m
        labels: {severity: warning}
        annotations:
          summary: "CPU of {{ $labels.instance }} is {{ $value | humanizePercentage }}"
          description: d
          runbook_url: https://wiki.example.org/cpu
      - alert: TargetMissing
        expr: absent(up{job="api"})
        for: 5m
        labels: {severity: critical}
        annotations: {summary: "{{ $labels.job }} gone", description: d, runbook_url: https://x.org}
      - alert: SlowRequests
        expr: |
          histogram_quantile(0.99,
            sum by (le, service) (rate(acgs_http_request_duration_seconds_bucket[5m])))
          > 2
        for: 5m
        labels: {severity: warning}
        annotations: {summary: "{{ $labels.service }}", description: d, runbook_url: https://x.org}
"""
    errors = [f for f in lint_text(text) if f.severity is Severity.ERROR]
    assert errors == []


def test_runbook_file_and_heading_must_exist(tmp_path: Path, alert_file: AlertFile) -> None:
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "svc.md").write_text("# Service\n\n## Service Down!\n\ntext\n")
    base = "https://git.example.org/repo/blob/main/"
    cases = {
        "runbooks/svc.md#service-down": [],
        f"{base}runbooks/svc.md#service-down": [],
        f"{base}runbooks/svc.md": [],
        f"{base}runbooks/svc.md#service-up": ["has no heading for #service-up"],
        f"{base}runbooks/gone.md": ["does not exist"],
        "https://elsewhere.example.org/runbook": [],
    }
    settings = LintSettings(runbook_base_url=base, repo_root=tmp_path)
    for url, expected in cases.items():
        path = tmp_path / "rules.yml"
        path.write_text(alert_file("up == 0").replace("https://example.org/runbook", url))
        found = [
            f.message
            for f in lint([path], settings, promtool=False).findings
            if f.check == "alert/runbook"
        ]
        assert len(found) == len(expected), (url, found)
        for message, fragment in zip(found, expected, strict=True):
            assert fragment in message


def test_unit_test_coverage(tmp_path: Path, alert_file: AlertFile) -> None:
    (tmp_path / "rules.yml").write_text(
        alert_file("up == 0", name="Tested")
        + alert_file("up == 0", name="Untested").split("rules:\n", 1)[1]
    )
    (tmp_path / "tests.yml").write_text(
        """\
rule_files: [rules.yml]
tests:
  - input_series: [{series: 'up{job="a"}', values: '0x10'}]
    alert_rule_test:
      - {eval_time: 0m, alertname: Tested, exp_alerts: []}
      - eval_time: 5m
        alertname: Tested
        exp_alerts: [{exp_labels: {severity: warning, job: a}}]
      - {eval_time: 5m, alertname: Untested, exp_alerts: []}
"""
    )
    result = lint([tmp_path], promtool=False)
    coverage = [f for f in result.findings if f.check == "alert/test-coverage"]
    assert [(f.rule, f.severity) for f in coverage] == [("Untested", Severity.ERROR)]
    assert "fires" in coverage[0].message


def test_a_watchdog_alert_is_a_correct_rule(tmp_path: Path) -> None:
    annotations = {
        "summary": "Alerting pipeline heartbeat",
        "description": "Always firing: when it stops arriving, alerting is broken.",
        "runbook_url": "https://example.org/watchdog",
    }
    rule = {"alert": "Watchdog", "expr": "vector(1)", "labels": {"severity": "info"}}
    (tmp_path / "rules.yml").write_text(
        yaml.safe_dump(
            {"groups": [{"name": "meta", "rules": [rule | {"annotations": annotations}]}]}
        )
    )
    expected = {"exp_labels": {"severity": "info"}, "exp_annotations": annotations}
    case = {"alertname": "Watchdog", "eval_time": "1m", "exp_alerts": [expected]}
    (tmp_path / "test.yml").write_text(
        yaml.safe_dump(
            {
                "rule_files": ["rules.yml"],
                "tests": [{"input_series": [], "alert_rule_test": [case]}],
            }
        )
    )
    assert run_unit_tests([tmp_path / "test.yml"]).ok
    assert lint([tmp_path]).findings == []


def _coverage(paths: list[Path]) -> list[tuple[str, str]]:
    result = lint(paths, promtool=False)
    return [(f.rule, f.message) for f in result.findings if f.check == "alert/test-coverage"]


def test_each_severity_variant_needs_its_own_firing_test(
    tmp_path: Path, alert_file: AlertFile
) -> None:
    warning = alert_file("up == 0", name="Down")
    critical = warning.split("rules:\n", 1)[1].replace("severity: warning", "severity: critical")
    (tmp_path / "rules.yml").write_text(warning + critical)
    (tmp_path / "tests.yml").write_text(
        """\
rule_files: [rules.yml]
tests:
  - input_series: [{series: 'up{job="a"}', values: '0x10'}]
    alert_rule_test:
      - {eval_time: 0m, alertname: Down, exp_alerts: []}
      - eval_time: 5m
        alertname: Down
        exp_alerts: [{exp_labels: {severity: warning, job: a}}]
"""
    )
    ((rule, message),) = _coverage([tmp_path])
    assert rule == "Down"
    assert "Down (severity=critical) fires" in message


def test_tests_count_only_for_the_rule_files_they_load(
    tmp_path: Path, alert_file: AlertFile
) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "a.yml").write_text(alert_file("up == 0", name="Down"))
    (tmp_path / "tests").mkdir()
    test = """\
rule_files: [RULES]
tests:
  - input_series: [{series: 'up{job="a"}', values: '0x10'}]
    alert_rule_test:
      - {eval_time: 0m, alertname: Down, exp_alerts: []}
      - {eval_time: 5m, alertname: Down, exp_alerts: [{exp_labels: {severity: warning, job: a}}]}
"""
    (tmp_path / "tests" / "t.yml").write_text(test.replace("RULES", "../rules/other.yml"))
    found = _coverage([tmp_path])
    assert len(found) == 2
    assert all("no test file lists" in message for _, message in found)
    (tmp_path / "tests" / "t.yml").write_text(test.replace("RULES", "../rules/*.yml"))
    assert _coverage([tmp_path]) == []


@pytest.mark.parametrize(
    ("tests", "fragment"),
    [
        ("alert_rule_test: 5", "'alert_rule_test' must be a list"),
        ("alert_rule_test: [{alertname: A, exp_alerts: 3}]", "'exp_alerts' must be a list"),
        ("alert_rule_test: [{alertname: A, exp_alerts: [{exp_labels: [a]}]}]", "exp_labels"),
    ],
)
def test_malformed_alert_rule_tests_are_findings(tmp_path: Path, tests: str, fragment: str) -> None:
    path = tmp_path / "t.yml"
    path.write_text(f"rule_files: [r.yml]\ntests:\n  - input_series: []\n    {tests}\n")
    (finding,) = lint([path], promtool=False).findings
    assert finding.check == "rule/schema"
    assert finding.line == 4
    assert fragment in finding.message


def test_alert_on_a_filtering_recording_rule_has_a_condition(lint_text: Linter) -> None:
    text = """\
groups:
  - name: g
    rules:
      - record: job:burn:alerting
        expr: sum by (job) (rate(up[5m])) > 1
      - alert: Burn
        expr: job:burn:alerting
        for: 1m
        labels: {severity: warning}
        annotations: {summary: s, description: d, runbook_url: https://x.org}
      - record: job:up:sum
        expr: sum by (job) (up)
      - alert: AlwaysFires
        expr: job:up:sum
        for: 1m
        labels: {severity: warning}
        annotations: {summary: s, description: d, runbook_url: https://x.org}
"""
    found = lint_text(text, "alert/comparison")
    assert [f.rule for f in found] == ["AlwaysFires"]


def test_recording_earlier_in_the_same_group_adds_no_interval(lint_text: Linter) -> None:
    text = """\
groups:
  - name: g
    interval: 10s
    rules:
      - record: job:up:min
        expr: min by (job) (up)
      - alert: Down
        expr: job:up:min == 0
        for: 5s
        labels: {severity: critical}
        annotations: {summary: s, description: d, runbook_url: https://x.org}
"""
    (finding,) = lint_text(text, "alert/detection-latency")
    # 15s scrape + 0 (same evaluation) + 10s group + 5s for + 5s group_wait
    assert "35s (scrape 15s + evaluation 10s + for 5s + group_wait 5s)" in finding.message
    moved = text.replace(
        "  - name: g\n    interval: 10s\n    rules:\n", "  - name: g\n    rules:\n"
    )
    moved = moved.replace(
        "      - alert: Down", "  - name: h\n    interval: 10s\n    rules:\n      - alert: Down"
    )
    (later,) = lint_text(moved, "alert/detection-latency")
    assert "scrape 20s" in later.message  # 15s scrape + 5s of the recording group


def test_value_in_a_label_is_an_error(lint_text: Linter, alert_file: AlertFile) -> None:
    text = alert_file("up == 0").replace(
        "          severity: warning\n",
        "          severity: warning\n          value: '{{ $value }}'\n",
    )
    (finding,) = lint_text(text, "alert/template")
    assert "labels.value uses $value" in finding.message
    assert lint_text(alert_file("up == 0"), "alert/template") == []


def test_settings_naming_unknown_checks_are_refused(tmp_path: Path) -> None:
    # The settings do not import the checks (the checks read the settings): the names are
    # checked where both are known, by lint() and by LintSettings.from_file(path, names).
    from acgs_rules.checks.registry import ALL_CHECK_NAMES
    from acgs_rules.settings import SettingsError

    with pytest.raises(SettingsError, match="unknown check"):
        lint([tmp_path], LintSettings(severity_overrides={"promql/nope": Severity.WARNING}))
    path = tmp_path / "settings.yml"
    path.write_text("disabled_checks: [promql/sytnax, promql/compat]\n")
    with pytest.raises(SettingsError, match="promql/sytnax"):
        LintSettings.from_file(path, ALL_CHECK_NAMES)
    assert LintSettings.from_file(path).disabled_checks == ("promql/sytnax", "promql/compat")
