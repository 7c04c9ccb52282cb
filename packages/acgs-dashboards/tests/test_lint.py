"""acgs-dashboards lint: each check catches its problem and stays quiet on correct input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from acgs_dashboards.cli import main
from acgs_dashboards.lint import LintOptions, lint_paths
from acgs_promql.expression import Expression, Role
from acgs_promql.findings import Finding, Severity
from acgs_promql.index import RecordedSeries
from acgs_testkit.paths import REPO_ROOT

DS = {"type": "prometheus", "uid": "${datasource}"}
DATASOURCE_VARIABLE = {"name": "datasource", "type": "datasource", "query": "prometheus"}
SERVICE_VARIABLE = {
    "name": "service",
    "type": "query",
    "datasource": DS,
    "query": {"query": "label_values(acgs_http_requests_total, service)"},
    "refresh": 2,
    "includeAll": True,
    "multi": True,
    "current": {"text": ["All"], "value": ["$__all"]},
}


def panel(expr: str | list[str], **extra: Any) -> dict[str, Any]:
    exprs = [expr] if isinstance(expr, str) else expr
    result: dict[str, Any] = {
        "type": "timeseries",
        "title": extra.pop("title", "Panel"),
        "description": "What it shows.",
        "datasource": DS,
        "fieldConfig": {"defaults": {"unit": extra.pop("unit", "short")}, "overrides": []},
        "gridPos": {"h": 8, "w": 12, "x": 0, "y": 0},
        "targets": [
            {"refId": chr(65 + i), "expr": e, "datasource": DS} for i, e in enumerate(exprs)
        ],
    }
    result.update(extra)
    return result


def board(*panels: dict[str, Any], **extra: Any) -> dict[str, Any]:
    result: dict[str, Any] = {
        "uid": extra.pop("uid", "test-board"),
        "title": extra.pop("title", "Test board"),
        "schemaVersion": 41,
        "time": {"from": "now-1h", "to": "now"},
        "templating": {"list": [DATASOURCE_VARIABLE, SERVICE_VARIABLE]},
        "panels": [dict(p, id=i + 1) for i, p in enumerate(panels)],
    }
    result.update(extra)
    return result


RECORDED_REQUESTS = RecordedSeries(
    "acgs:requests:rate5m",
    Expression("sum by (service) (rate(acgs_http_requests_total[5m]))", Role.RECORD),
)


def lint(tmp_path: Path, *boards: dict[str, Any], wrap: bool = False) -> list[Finding]:
    paths = []
    for index, document in enumerate(boards):
        path = tmp_path / f"board{index}.json"
        path.write_text(json.dumps({"dashboard": document} if wrap else document, indent=2))
        paths.append(path)
    return lint_paths(paths, LintOptions(recorded=(RECORDED_REQUESTS,))).findings


def checks(findings: list[Finding], severity: Severity | None = None) -> set[str]:
    return {f.check for f in findings if severity is None or f.severity is severity}


GOOD = board(
    panel(
        'sum by (service) (rate(acgs_http_requests_total{service=~"$service"}[$__rate_interval]))',
        title="Requests",
        unit="reqps",
    ),
    panel(
        "histogram_quantile(0.95, sum by (le, service) "
        '(rate(acgs_http_request_duration_seconds_bucket{service=~"$service"}[$__rate_interval])))',
        title="Latency",
        unit="s",
    ),
    panel(
        'min by (service) (acgs_constitutional_compliance_score{service=~"$service"})',
        title="Compliance",
        unit="percentunit",
    ),
    panel(
        "1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes",
        title="Memory",
        unit="percentunit",
    ),
    panel("acgs:requests:rate5m", title="Recorded", unit="reqps"),
)


def test_a_correct_dashboard_has_no_findings(tmp_path: Path) -> None:
    assert lint(tmp_path, GOOD) == []
    assert lint(tmp_path, GOOD, wrap=True) == []


def test_findings_name_file_line_panel_and_check(tmp_path: Path) -> None:
    bad = board(panel("rate(acgs_constitutional_compliance_score[5m])", title="Oops"))
    (finding,) = [f for f in lint(tmp_path, bad) if f.check == "promql/counter"]
    assert finding.path.endswith("board0.json")
    assert finding.severity is Severity.ERROR
    assert finding.rule == "Test board / Oops / A"
    text = (tmp_path / "board0.json").read_text().splitlines()
    # The line of the expression itself (lines count from 1).
    assert '"expr": "rate(acgs_constitutional' in text[finding.line - 1]


@pytest.mark.parametrize(
    ("expr", "check", "severity"),
    [
        ("sum(rate(acgs_http_requests_total[5m]", "promql/syntax", Severity.ERROR),
        ('up{job="$undefined_variable"}', "promql/syntax", Severity.ERROR),
        ("rate(acgs_http_request_total[5m])", "promql/unknown-metric", Severity.ERROR),
        ("rate(kube_pod_restarts_total[5m])", "promql/unknown-metric", Severity.WARNING),
        ('rate(acgs_http_requests_total{route="/x"}[5m])', "promql/unknown-label", Severity.ERROR),
        (
            "sum by (pod) (rate(acgs_http_requests_total[5m]))",
            "promql/unknown-label",
            Severity.ERROR,
        ),
        ('acgs_active_sessions{service="billing"}', "promql/unknown-label", Severity.ERROR),
        ("rate(acgs_active_sessions[5m])", "promql/counter", Severity.ERROR),
        ("sum(acgs_http_requests_total)", "promql/counter", Severity.WARNING),
        ("deriv(acgs_http_requests_total[5m])", "promql/counter", Severity.WARNING),
        (
            "histogram_quantile(0.9, sum by (service) "
            "(rate(acgs_http_request_duration_seconds_bucket[5m])))",
            "promql/histogram",
            Severity.ERROR,
        ),
        (
            "histogram_quantile(0.9, rate(acgs_http_request_duration_seconds_sum[5m]))",
            "promql/histogram",
            Severity.ERROR,
        ),
        (
            "histogram_quantile(0.9, acgs_http_request_duration_seconds_bucket)",
            "promql/histogram",
            Severity.WARNING,
        ),
        ("rate(acgs_http_requests_total[$__interval])", "promql/rate-interval", Severity.WARNING),
        ("rate(acgs_http_requests_total[20s])", "promql/rate-interval", Severity.WARNING),
    ],
)
def test_query_checks(tmp_path: Path, expr: str, check: str, severity: Severity) -> None:
    findings = lint(tmp_path, board(panel(expr)))
    assert check in checks(findings, severity), findings


def test_fine_queries_pass_the_query_checks(tmp_path: Path) -> None:
    fine = [
        "rate(acgs_http_requests_total[1h])",  # a long fixed window is fine
        "count(acgs_http_requests_total)",  # counting series of a counter is fine
        "acgs_http_requests_total - acgs_http_requests_total offset 1h",
        'sum(rate(acgs_http_requests_total{status_code=~"5.."}[$__rate_interval]))',
        'label_replace(up, "svc", "$1", "job", "acgs-(.*)")',
        "rate(acgs_http_requests_total[$window])",  # an interval variable's window
        "sum(rate(node_cpu_seconds_total[$__rate_interval])) # acgs-dashboards disable=all",
        "max_over_time(up[1h] @ ${__to:date:seconds}) + 0 * ${__from}",
    ]
    window = {"name": "window", "type": "interval", "query": "5m,1h", "current": {"value": "5m"}}
    variables = {"list": [DATASOURCE_VARIABLE, SERVICE_VARIABLE, window]}
    panels = (panel(e, title=f"p{i}") for i, e in enumerate(fine))
    findings = lint(tmp_path, board(*panels, templating=variables))
    assert [f for f in findings if f.check.startswith("promql/")] == []


P90 = "histogram_quantile(0.9, sum by (le) (rate(acgs_http_request_duration_seconds_bucket[5m])))"


@pytest.mark.parametrize(
    ("expr", "unit"),
    [
        (P90, "bytes"),
        ("node_memory_MemAvailable_bytes", "s"),
        ("rate(node_network_receive_bytes_total[5m])", "bytes"),
        ("acgs_evolution_fitness_ratio", "short"),
        ("scrape_duration_seconds", "short"),
    ],
)
def test_units_that_do_not_fit_are_warned(tmp_path: Path, expr: str, unit: str) -> None:
    findings = lint(tmp_path, board(panel(expr, unit=unit)))
    assert "panel/unit-fit" in checks(findings, Severity.WARNING)


@pytest.mark.parametrize(
    ("expr", "unit"),
    [
        (P90, "ms"),
        ("rate(node_network_receive_bytes_total[5m])", "Bps"),
        ("rate(node_cpu_seconds_total[5m])", "percentunit"),
        ("rate(node_cpu_seconds_total[5m]) * 100", "percent"),
        ("rate(acgs_http_request_duration_seconds_count[5m])", "reqps"),
        (
            "rate(acgs_http_request_duration_seconds_sum[5m]) / "
            "rate(acgs_http_request_duration_seconds_count[5m])",
            "s",
        ),
    ],
)
def test_units_that_fit_pass(tmp_path: Path, expr: str, unit: str) -> None:
    assert "panel/unit-fit" not in checks(lint(tmp_path, board(panel(expr, unit=unit))))


def test_datasource_references(tmp_path: Path) -> None:
    cases = {
        "foreign uid": ({"type": "prometheus", "uid": "P1809F7CD0C75ACF3"}, Severity.ERROR),
        "export placeholder": ({"type": "prometheus", "uid": "${DS_PROMETHEUS}"}, Severity.ERROR),
        "legacy name": ("Prometheus", Severity.WARNING),
    }
    for title, (datasource, severity) in cases.items():
        findings = lint(tmp_path, board(panel("up", title=title, datasource=datasource)))
        assert "datasource/reference" in checks(findings, severity), title
    fine = [
        {"type": "prometheus", "uid": "acgs-prometheus"},
        "$datasource",
        None,
        {"type": "datasource", "uid": "-- Mixed --"},
    ]
    for allowed in fine:
        assert "datasource/reference" not in checks(
            lint(tmp_path, board(panel("up", datasource=allowed)))
        ), allowed
    no_variable = board(panel("up"), templating={"list": []})
    findings = lint(tmp_path, no_variable)
    assert {"datasource/variable", "datasource/reference"} <= checks(findings)


def test_loki_targets_are_not_parsed_as_promql(tmp_path: Path) -> None:
    logs = panel('{job="x"} |= "error"', type="logs")
    logs["datasource"] = {"type": "loki", "uid": "loki"}
    logs["targets"][0]["datasource"] = {"type": "loki", "uid": "loki"}
    findings = lint(tmp_path, board(logs))
    assert "promql/syntax" not in checks(findings)


def test_panel_and_dashboard_checks(tmp_path: Path) -> None:
    empty = panel("up", title="Empty")
    empty["targets"] = []
    nameless = panel("up", title="", description="")
    nameless["fieldConfig"] = {"defaults": {}}
    graph = panel("up", title="Old", type="graph")
    twin_a, twin_b = panel("up", title="Twin"), panel("up", title="Twin")
    findings = lint(tmp_path, board(empty, nameless, graph, twin_a, twin_b, schemaVersion=27))
    assert "panel/targets" in checks(findings, Severity.ERROR)
    assert {"panel/title-description", "panel/unit", "panel/legacy-type", "panel/duplicate"} <= (
        checks(findings, Severity.WARNING)
    )
    assert "dashboard/schema" in checks(findings, Severity.WARNING)
    text_panel = {"type": "text", "title": "Notes", "options": {"content": "hi"}}
    assert lint(tmp_path, board(text_panel)) == []


def test_variables_refresh_and_variable_queries(tmp_path: Path) -> None:
    stale = dict(SERVICE_VARIABLE, refresh=1)
    broken = dict(SERVICE_VARIABLE, name="bad", query="label_values(acgs_nope{, service)")
    findings = lint(tmp_path, board(templating={"list": [DATASOURCE_VARIABLE, stale, broken]}))
    assert "variable/refresh" in checks(findings, Severity.WARNING)
    assert "promql/syntax" in checks(findings, Severity.ERROR)


def test_duplicates_across_files(tmp_path: Path) -> None:
    findings = lint(tmp_path, GOOD, GOOD)
    assert "dashboard/duplicate-uid" in checks(findings, Severity.ERROR)
    assert "dashboard/duplicate-title" in checks(findings, Severity.WARNING)


def test_silencing_in_descriptions_and_queries(tmp_path: Path) -> None:
    bad = "rate(acgs_active_sessions[5m])"
    by_panel = panel(
        bad, description="Gauge rate on purpose. acgs-dashboards disable=promql/counter"
    )
    assert "promql/counter" not in checks(lint(tmp_path, board(by_panel)))
    by_query = panel(f"{bad} # acgs-dashboards disable=promql/counter")
    assert "promql/counter" not in checks(lint(tmp_path, board(by_query)))
    by_dashboard = board(
        panel(bad), description="acgs-dashboards disable=promql/counter, panel/unit"
    )
    assert "promql/counter" not in checks(lint(tmp_path, by_dashboard))
    other_check = panel(bad, description="acgs-dashboards disable=panel/unit")
    assert "promql/counter" in checks(lint(tmp_path, board(other_check)))


def test_bad_files_become_findings_with_lines(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{\n  "title": "x",\n  "panels": [\n    {"type": }\n  ]\n}\n')
    not_a_board = tmp_path / "list.json"
    not_a_board.write_text("[1, 2]")
    findings = lint_paths([broken, not_a_board]).findings
    assert [(Path(f.path).name, f.line, f.check) for f in findings] == [
        ("broken.json", 4, "dashboard/load"),
        ("list.json", 1, "dashboard/load"),
    ]


def test_cli_exit_codes_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(board(*GOOD["panels"][:4])))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(board(panel("rate(acgs_active_sessions[5m])"), uid="other")))
    assert main(["lint", str(good)]) == 0
    capsys.readouterr()
    assert main(["lint", str(bad), "--format", "json"]) == 1
    payload = json.loads(capsys.readouterr().out)
    assert payload["summary"] == {"dashboards": 1, "errors": 1, "warnings": 0}
    (finding,) = payload["findings"]
    assert set(finding) == {"file", "line", "rule", "check", "severity", "message"}
    # A missing path is an error finding (exit 1), as in acgs-rules lint.
    assert main(["lint", str(good), str(tmp_path / "missing.json"), "--format", "json"]) == 1
    payload = json.loads(capsys.readouterr().out)
    assert payload["summary"] == {"dashboards": 1, "errors": 1, "warnings": 0}
    assert [(f["line"], f["check"], f["message"]) for f in payload["findings"]] == [
        (0, "dashboard/load", "no such file or directory")
    ]
    assert main(["lint", str(good), "--rules", str(tmp_path / "nope")]) == 1
    assert "rules/load" in capsys.readouterr().out


def test_disable_flag_and_scrape_interval_are_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(board(panel("rate(acgs_active_sessions[5m])"))))
    assert main(["lint", str(bad)]) == 1
    assert main(["lint", str(bad), "--disable", "promql/counter"]) == 0
    assert main(["lint", str(tmp_path / "gone.json"), "--disable", "dashboard/load"]) == 0
    capsys.readouterr()
    assert main(["lint", str(bad), "--disable", "promql/nope"]) == 2
    assert "unknown check(s) promql/nope" in capsys.readouterr().err
    for interval in ("0", "-15", "nan", "soon"):
        with pytest.raises(SystemExit) as exit_info:
            main(["lint", str(bad), "--scrape-interval", interval])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert "--scrape-interval" in err
        assert "above 0" in err or "not a number" in err
    with pytest.raises(SystemExit):
        main(["queryload", str(bad), "--url", "http://127.0.0.1:1", "--scrape-interval", "0"])
    assert "must be above 0" in capsys.readouterr().err


def test_recording_rules_from_rule_files_are_known(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.yml").write_text(
        "groups:\n- name: g\n  rules:\n  - record: acgs:errors:ratio_rate5m\n    expr: vector(1)\n"
    )
    path = tmp_path / "b.json"
    path.write_text(json.dumps(board(panel("acgs:errors:ratio_rate5m", unit="percentunit"))))
    assert main(["lint", str(path), "--rules", str(rules)]) == 0
    assert main(["lint", str(path), "--rules", str(tmp_path / "b.json")]) == 1


def test_rule_files_that_do_not_load_are_findings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("groups:\n- name: g\n  rules:\n  - record: acgs:x:rate5m\n    expr: [\n")
    path = tmp_path / "b.json"
    path.write_text(json.dumps(board(panel("acgs:x:rate5m", unit="short"))))
    assert main(["lint", str(path), "--rules", str(broken), "--format", "json"]) == 1
    findings = json.loads(capsys.readouterr().out)["findings"]
    (load_error,) = [f for f in findings if f["check"] == "rules/load"]
    assert load_error["file"] == str(broken)
    assert load_error["line"] == 6
    assert "invalid YAML" in load_error["message"]
    # The consequence is still reported, but now with its cause next to it.
    assert "promql/unknown-metric" in {f["check"] for f in findings}


def test_default_rules_are_not_searched_for_upwards(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The default --rules is ./rules, or the settings' rules: a repository's parent (or
    this checkout) no longer lends its recorded names."""
    recorded = "acgs:http_requests:rate1m"
    assert recorded in (REPO_ROOT / "rules" / "acgs-recording.yml").read_text()
    work = tmp_path / "repo" / "sub"
    work.mkdir(parents=True)
    path = work / "b.json"
    path.write_text(json.dumps(board(panel(recorded, unit="reqps"))))
    (tmp_path / "repo" / "rules").mkdir()
    (tmp_path / "repo" / "rules" / "r.yml").write_text(
        f"groups:\n- name: g\n  rules:\n  - record: {recorded}\n    expr: sum(up)\n"
    )
    monkeypatch.chdir(work)
    assert main(["lint", str(path), "--format", "json"]) == 1
    (unknown,) = json.loads(capsys.readouterr().out)["findings"]
    assert unknown["check"] == "promql/unknown-metric"
    monkeypatch.chdir(tmp_path / "repo")
    assert main(["lint", str(path)]) == 0, capsys.readouterr().out
    (work / "acgs-lint.yml").write_text("dashboards:\n  rules: [../rules]\n")
    monkeypatch.chdir(work)
    assert main(["lint", str(path)]) == 0, capsys.readouterr().out


DATA = Path(__file__).parent / "data"


def test_unseen_correct_dashboards_get_no_errors() -> None:
    """Hand-written in the shapes found in the wild: schema 22 rows, graph and singlestat
    panels, [[var]] syntax, interval and auto variables, regex variables, mixed and
    expression datasources, shared queries, library panels, Loki, the API wrapper; an
    "Export for sharing externally" with ``${DS_PROMETHEUS}`` declared in ``__inputs``,
    native-histogram quantiles (no ``le``) and a join inside a quantile."""
    options = LintOptions(recorded=())
    report = lint_paths([DATA], options)
    assert report.dashboards == 3
    assert report.errors == []
    (shared,) = [f for f in report.findings if "shared_export" in f.path]
    assert (shared.check, shared.severity, shared.line) == (
        "datasource/reference",
        Severity.WARNING,
        2,  # the line of "__inputs": one warning for the dashboard, not one per panel
    )
    assert {f.check for f in report.findings} == {
        "dashboard/schema",
        "panel/legacy-type",
        "datasource/reference",
    }


def test_every_check_is_documented() -> None:
    """Dashboard checks in docs/checks.md; the PromQL checks on acgs-promql's pages, linked."""
    from acgs_dashboards.lint.checks import ALL_CHECK_NAMES
    from acgs_promql.checks.registry import BY_NAME

    docs = REPO_ROOT / "packages" / "acgs-dashboards" / "docs"
    doc = (docs / "checks.md").read_text()
    sections = {line.removeprefix("## ") for line in doc.splitlines() if line.startswith("## ")}
    shared = {name for name in ALL_CHECK_NAMES if name in BY_NAME}
    assert shared == {
        "promql/syntax",
        "promql/unknown-metric",
        "promql/unknown-label",
        "promql/counter",
        "promql/histogram",
        *("promql/series", "promql/label-value"),
    }
    assert sections - {"Grafana's dashboard-linter rules", "PromQL checks"} == (
        set(ALL_CHECK_NAMES) - shared
    )
    for name in shared:
        link = f"../../acgs-promql/{BY_NAME[name].doc_page}"
        assert f"[{name}]({link})" in doc
        assert (docs / link).resolve().is_file()


def test_target_labels_from_the_command_line(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    path.write_text(json.dumps(board(panel('acgs_active_sessions{cluster="eu"}'))))
    assert main(["lint", str(path)]) == 1
    assert main(["lint", str(path), "--target-label", "cluster"]) == 0


def test_a_crashing_check_is_a_finding_and_the_others_still_run() -> None:
    from acgs_dashboards.lint import Check, lint_dashboards
    from acgs_dashboards.lint.checks import CHECKS
    from acgs_dashboards.model import parse_dashboard

    def explode(dashboard: object, ctx: object) -> Any:
        raise KeyError("boom")

    broken = Check("test/broken", "always crashes", per_dashboard=explode)
    dashboard = parse_dashboard(board(panel("acgs_not_in_the_catalog")), "boards/mine.json")
    findings = lint_dashboards([dashboard], checks=[broken, *CHECKS])
    crash = [f for f in findings if f.check == "test/broken"]
    assert len(crash) == 1
    assert crash[0].severity is Severity.ERROR
    # The crash names the dashboard it was reading, so the reader knows where to look.
    assert (crash[0].path, crash[0].line, crash[0].rule) == ("boards/mine.json", 1, "Test board")
    assert "internal error in check (please report): KeyError('boom')" in crash[0].message
    assert "promql/unknown-metric" in checks(findings)


def test_fields_of_the_wrong_type_are_findings_not_crashes(tmp_path: Path) -> None:
    """Each field a reader used to call .get() on, given the wrong JSON type."""
    odd_config = panel("up", title="Odd config")
    odd_config["fieldConfig"] = "s"
    odd_defaults = panel("up", title="Odd defaults")
    odd_defaults["fieldConfig"] = {"defaults": ["unit", "s"], "overrides": {"unit": "s"}}
    odd_targets = panel("up", title="Odd targets", gridPos="wide", description=7)
    odd_targets["targets"] = 5
    document = board(odd_config, odd_defaults, odd_targets, time="now-6h", description=["x"])
    document["templating"] = {"list": {"name": "datasource"}}
    findings = lint(tmp_path, document)
    assert not [f for f in findings if "internal error" in f.message], findings
    schema = {f.message.split(" must ")[0]: f for f in findings if f.check == "dashboard/schema"}
    assert set(schema) == {
        "field 'time'",
        "field 'templating.list'",
        "panel 'Odd config': field 'fieldConfig'",
        "panel 'Odd defaults': field 'fieldConfig.defaults'",
        "panel 'Odd defaults': field 'fieldConfig.overrides'",
        "panel 'Odd targets': field 'targets'",
        "panel 'Odd targets': field 'gridPos'",
    }
    assert all(f.severity is Severity.ERROR for f in schema.values())
    lines = (tmp_path / "board0.json").read_text().splitlines()
    time_finding = schema["field 'time'"]
    assert time_finding.path.endswith("board0.json")
    assert '"time": "now-6h"' in lines[time_finding.line - 1]
    assert "not a string" in time_finding.message
    defaults = schema["panel 'Odd defaults': field 'fieldConfig.defaults'"]
    assert '"defaults": [' in lines[defaults.line - 1]


# --- the PromQL checks, merged with the rule linter's (each doc page says "Changed") ---


def test_a_panel_that_returns_a_range_vector_is_an_error(tmp_path: Path) -> None:
    (finding,) = [f for f in lint(tmp_path, board(panel("up[5m]"))) if f.check == "promql/syntax"]
    assert finding.severity is Severity.ERROR
    assert "returns a range vector" in finding.message
    instant = panel("up[5m]")
    instant["targets"][0]["instant"] = True
    assert "promql/syntax" not in checks(lint(tmp_path, board(instant)))


def test_counter_checks_judge_variable_and_instant_queries_by_their_role(
    tmp_path: Path,
) -> None:
    gauge_rate = dict(
        SERVICE_VARIABLE,
        name="busy",
        query={"query": "query_result(rate(acgs_active_sessions[5m]))"},
    )
    variables = {"list": [DATASOURCE_VARIABLE, SERVICE_VARIABLE, gauge_rate]}
    findings = lint(tmp_path, board(templating=variables))
    assert "promql/counter" in checks(findings, Severity.ERROR)
    # A raw counter in an instant query (a table of current totals) is what was asked for.
    instant = panel("sum by (service) (acgs_http_requests_total)")
    instant["targets"][0]["instant"] = True
    assert "promql/counter" not in checks(lint(tmp_path, board(instant)))


def test_a_rate_over_a_subquery_of_a_sum_of_counters_is_an_error(tmp_path: Path) -> None:
    expr = "rate(sum by (service) (acgs_http_requests_total)[5m:])"
    findings = [f for f in lint(tmp_path, board(panel(expr))) if f.check == "promql/counter"]
    assert [f.severity for f in findings] == [Severity.ERROR]
    assert "take the rate first" in findings[0].message


def _recorded_board(tmp_path: Path, recorded: tuple[RecordedSeries, ...], expr: str) -> Any:
    path = tmp_path / "board.json"
    path.write_text(json.dumps(board(panel(expr, unit="s"))))
    return lint_paths([path], LintOptions(recorded=recorded)).findings


def test_histogram_follows_recorded_series_to_their_expressions(tmp_path: Path) -> None:
    by_service = RecordedSeries(
        "acgs:latency_buckets:rate5m",
        Expression(
            "sum by (service) (rate(acgs_http_request_duration_seconds_bucket[5m]))", Role.RECORD
        ),
    )
    found = _recorded_board(
        tmp_path, (by_service,), "histogram_quantile(0.9, acgs:latency_buckets:rate5m)"
    )
    (finding,) = [f for f in found if f.check == "promql/histogram"]
    assert finding.severity is Severity.ERROR
    assert "'le'" in finding.message
    # Recorded buckets that keep le are rates already: neither le nor "raw" is a problem.
    by_le = RecordedSeries(
        "service_le:acgs_http_request_duration_seconds_bucket:rate5m",
        Expression(
            "sum by (service, le) (rate(acgs_http_request_duration_seconds_bucket[5m]))",
            Role.RECORD,
        ),
    )
    expr = "histogram_quantile(0.9, service_le:acgs_http_request_duration_seconds_bucket:rate5m)"
    assert [
        f for f in _recorded_board(tmp_path, (by_le,), expr) if f.check == "promql/histogram"
    ] == []


def test_rule_files_with_schema_problems_still_lend_their_recorded_names(tmp_path: Path) -> None:
    rules = tmp_path / "r.yml"
    rules.write_text(
        "groups:\n- name: g\n  interval: often\n  rules:\n"
        "  - record: acgs:errors:ratio_rate5m\n    expr: vector(1)\n    bogus: 1\n"
    )
    path = tmp_path / "b.json"
    path.write_text(json.dumps(board(panel("acgs:errors:ratio_rate5m", unit="percentunit"))))
    assert main(["lint", str(path), "--rules", str(rules)]) == 0
