"""Both linters on a foreign repository (issue 15): found / missed / false counts per class.

``tests/data/foreign-repo`` is a small fake shop: its service code defines its metrics with
prometheus_client (``service/``), its rules and a PrometheusRule manifest hold one alert per
defect class (``<Class>Bad<n>``) and a well-formed counterpart (``<Class>Clean<n>``), its
dashboard one panel each, and beside them sit a docker-compose file, a Prometheus config and
the shared ``acgs-lint.yml``. Without ``--source`` only the catalog, the exporter lists and
the naming conventions know a type; with it the service code does, and every class is found
with nothing false.
"""

from __future__ import annotations

import re
import shutil
from collections import Counter
from pathlib import Path

import pytest

from acgs_dashboards.cli import main as dashboards_main
from acgs_dashboards.lint import LintOptions, lint_paths
from acgs_promql.findings import Finding, Severity
from acgs_promql.index import read_recorded_series
from acgs_promql.sources.code import SOURCE_LOAD, read_code
from acgs_rules.cli import main as rules_main
from acgs_rules.lint import lint
from acgs_rules.settings import LintSettings

REPO = Path(__file__).parent / "data" / "foreign-repo"
CLASS_CHECK = {
    "GaugeRate": "promql/counter",
    "RawCounter": "promql/counter",
    "RawBucket": "promql/histogram",
    "NotBucket": "promql/histogram",
    "LeDropped": "promql/histogram",
    "UnknownLabel": "promql/unknown-label",
    "Typo": "promql/unknown-metric",
    "CatalogName": "promql/unknown-label",
    "Recorded": "promql/unknown-metric",  # a recorded series (dashboards only)
}
_NAME = re.compile(r"(?:Manifest)?(?P<cls>[A-Za-z]+?)(?P<kind>Bad|Clean)\d+")
Counts = dict[str, tuple[int, int, int]]  # class -> (found, missed, false)


def counts(names: list[str], findings: list[Finding]) -> Counts:
    """Per class: Bad alerts with a finding of the class's check, Bad ones without, and Clean
    ones with one."""
    flagged = {(name, f.check) for f in findings for name in names if _rule_of(f) == name}
    result: dict[str, list[int]] = {cls: [0, 0, 0] for cls in CLASS_CHECK}
    for name in names:
        match = _NAME.fullmatch(name)
        assert match is not None, name
        cls, bad = match["cls"], match["kind"] == "Bad"
        hit = (name, CLASS_CHECK[cls]) in flagged
        slot = (0 if hit else 1) if bad else (2 if hit else None)
        if slot is not None:
            result[cls][slot] += 1
    return {cls: (found, missed, false) for cls, (found, missed, false) in result.items()}


def _rule_of(finding: Finding) -> str:
    """The alert (rule linter) or panel title (dashboard linter) a finding is about."""
    parts = finding.rule.split(" / ")
    return parts[1] if len(parts) > 1 else parts[0]


def alert_names() -> list[str]:
    text = "\n".join(p.read_text() for p in (REPO / "rules", REPO / "deploy") for p in p.glob("*"))
    return re.findall(r"alert: (\w+)", text)


def panel_titles() -> list[str]:
    return re.findall(
        r'"title": "(\w+(?:Bad|Clean)\d+)"', (REPO / "dashboards/shop.json").read_text()
    )


def rule_settings(source: bool) -> LintSettings:
    settings = LintSettings.from_file(REPO / "acgs-lint.yml")
    return settings if source else settings.model_copy(update={"source": ()})


@pytest.fixture(scope="module")
def with_source() -> list[Finding]:
    return lint([REPO], rule_settings(source=True)).findings


def test_rules_without_source_know_only_the_conventions() -> None:
    found = lint([REPO], rule_settings(source=False), promtool=False).findings
    assert counts(alert_names(), found) == {
        "GaugeRate": (0, 2, 0),  # no name says "gauge"
        "RawCounter": (3, 0, 0),  # _total: by convention, so warnings
        "RawBucket": (1, 0, 0),
        "NotBucket": (1, 0, 0),
        "LeDropped": (1, 0, 0),
        "UnknownLabel": (0, 2, 0),  # labels unknown
        "Typo": (1, 0, 1),  # and shop_build_info is unknown too
        "CatalogName": (0, 0, 1),  # the catalog's labels forced on the shop's own metric
        "Recorded": (0, 0, 0),
    }
    raw = [f for f in found if f.check == "promql/counter"]
    assert len(raw) == 3
    assert {f.severity for f in raw} == {Severity.WARNING}
    assert all("naming convention (the _total suffix)" in f.message for f in raw)


def test_rules_with_source_find_every_class_and_nothing_false(with_source: list[Finding]) -> None:
    assert counts(alert_names(), with_source) == {
        "GaugeRate": (2, 0, 0),
        "RawCounter": (3, 0, 0),
        "RawBucket": (1, 0, 0),
        "NotBucket": (1, 0, 0),
        "LeDropped": (1, 0, 0),
        "UnknownLabel": (2, 0, 0),
        "Typo": (1, 0, 0),
        "CatalogName": (0, 0, 0),
        "Recorded": (0, 0, 0),
    }
    clean_errors = [f for f in with_source if "Clean" in f.rule and f.severity is Severity.ERROR]
    assert clean_errors == []  # promtool and every rule-level check included


def test_each_finding_names_its_source(with_source: list[Finding]) -> None:
    by_rule = {(f.rule, f.check): f for f in with_source}
    gauge = by_rule["GaugeRateBad1", "promql/counter"]
    assert gauge.severity is Severity.ERROR
    assert "[service code " in gauge.message
    assert "metrics.py:16]" in gauge.message
    counter = by_rule["RawCounterBad2", "promql/counter"]
    assert "worker.py:10]" in counter.message  # imported as MetricCounter
    typo = by_rule["TypoBad1", "promql/unknown-metric"]
    assert "did you mean 'shop_orders_total'" in typo.message
    assert "not defined in the service code" in typo.message
    label = by_rule["UnknownLabelBad1", "promql/unknown-label"]
    assert label.severity is Severity.WARNING
    assert "target_labels" in label.message


def test_dashboards_with_and_without_source() -> None:
    recorded = read_recorded_series([REPO / "rules"]).series
    titles = panel_titles()
    plain = lint_paths([REPO / "dashboards"], LintOptions(recorded=recorded)).findings
    code = read_code([REPO / "service"])
    options = LintOptions(recorded=recorded, sources=(code,))
    sourced = lint_paths([REPO / "dashboards"], options).findings
    assert counts(titles, plain) == {
        "GaugeRate": (0, 1, 0),
        "RawCounter": (1, 0, 0),
        "RawBucket": (1, 0, 0),
        "NotBucket": (1, 0, 0),
        "LeDropped": (0, 0, 0),
        "UnknownLabel": (0, 1, 0),
        "Typo": (1, 0, 0),
        "CatalogName": (0, 0, 1),
        "Recorded": (0, 0, 0),
    }
    assert counts(titles, sourced) == {
        "GaugeRate": (1, 0, 0),
        "RawCounter": (1, 0, 0),
        "RawBucket": (1, 0, 0),
        "NotBucket": (1, 0, 0),
        "LeDropped": (0, 0, 0),
        "UnknownLabel": (1, 0, 0),
        "Typo": (1, 0, 0),
        "CatalogName": (0, 0, 0),
        "Recorded": (0, 0, 0),
    }
    assert [f for f in sourced if "Clean" in f.rule and f.severity is Severity.ERROR] == []


def test_one_settings_file_serves_both_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """From the repository's root, both commands read acgs-lint.yml (source, rules), the
    walk skips docker-compose.yml and prometheus.yml with one info line, and both grade the
    typo the same way."""
    copy = tmp_path / "shop"
    shutil.copytree(REPO, copy)
    monkeypatch.chdir(copy)
    assert rules_main(["lint", ".", "--no-promtool", "--disable", "alert/test-coverage"]) == 1
    out = capsys.readouterr().out
    assert "info: skipped 2 file(s)" in out
    assert "docker-compose.yml" in out
    assert "rule/schema" not in out
    assert dashboards_main(["lint", "dashboards"]) == 1
    out += capsys.readouterr().out
    typo_lines = [line for line in out.splitlines() if "'shop_order_total'" in line]
    assert len(typo_lines) == 2
    assert all("warning [promql/unknown-metric]" in line for line in typo_lines)
    assert all("did you mean 'shop_orders_total'" in line for line in typo_lines)


def test_unreadable_source_modules_are_warnings(tmp_path: Path) -> None:
    (tmp_path / "ok.py").write_text(
        "from prometheus_client import Gauge\nG = Gauge('a_b', 'd', ['x'])\n"
    )
    (tmp_path / "broken.py").write_text("import prometheus_client\ndef (:\n")
    (tmp_path / "deep.py").write_text("import prometheus_client\nx = " + "(" * 5000 + ")" * 5000)
    code = read_code([tmp_path, tmp_path / "missing"])
    assert [f.name for f in code.found] == ["a_b"]
    found = Counter((Path(f.path).name, f.severity) for f in code.findings)
    assert found == {
        ("broken.py", Severity.WARNING): 1,
        ("deep.py", Severity.WARNING): 1,
        ("missing", Severity.ERROR): 1,
    }
    assert {f.check for f in code.findings} == {SOURCE_LOAD}
