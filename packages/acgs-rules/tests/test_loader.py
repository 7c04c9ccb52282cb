"""Loading: bad YAML and wrong fields become findings with file and line, never a traceback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acgs_promql.findings import Severity
from acgs_rules.lint import lint
from acgs_rules.loader import load

Linter = Callable[..., Any]
RULE_START = "groups:\n  - name: g\n    rules:\n"


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        (
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n   bad",
            6,
            "invalid YAML",
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        exprr: up == 0\n",
            5,
            "unknown rule field 'exprr'",
        ),
        ("groups:\n  - name: g\n    rules:\n      - alert: A\n", 4, "has no 'expr'"),
        ("groups:\n  - name: g\n    rules:\n      - expr: up\n", 4, "needs 'alert' or 'record'"),
        (
            RULE_START + "      - alert: A\n        record: b\n        expr: up\n",
            4,
            "not both",
        ),
        (
            RULE_START + "      - alert: A\n        expr: up\n        for: 5\n",
            6,
            "not a duration",
        ),
        (
            "groups:\n  - name: g\n    intervall: 1m\n    rules: []\n",
            3,
            "unknown group field 'intervall'",
        ),
        ("groups:\n  - rules: []\n", 2, "group has no 'name'"),
        ("groups: {name: g}\n", 1, "'groups' must be a list"),
        ("group:\n  - name: g\n", 1, "unknown top-level field 'group'"),
        ("- just\n- a list\n", 1, "expected a rule file"),
        (
            RULE_START + "      - alert: A\n        expr: up\n        expr: up\n",
            6,
            "appears twice",
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: [up]\n",
            5,
            "expr must be a string",
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - record: 'bad name'\n        expr: up\n",
            4,
            "invalid recording rule name",
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n"
            "        labels: {9x: a}\n",
            6,
            "invalid label name",
        ),
        (
            RULE_START + "      - record: r\n        expr: up\n        for: 1m\n",
            6,
            "recording rules have no 'for'",
        ),
    ],
)
def test_bad_input_is_a_finding_with_a_line(
    lint_text: Linter, text: str, line: int, fragment: str
) -> None:
    found = lint_text(text, "yaml/syntax", "rule/schema")
    assert any(fragment in f.message and f.line == line for f in found), [
        (f.line, f.message) for f in found
    ]
    assert all(f.severity is Severity.ERROR for f in found)


def test_prometheus_rule_manifests_and_multiple_documents(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(
        """\
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata: {name: acgs}
spec:
  groups:
    - name: from-manifest
      rules:
        - record: job:up:sum
          expr: sum by (job) (up)
---
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata: {name: broken}
spec:
  groups:
    - name: broken
      rules:
        - record: r
          expr: sum(
"""
    )
    result = lint([manifest], promtool=True)
    loaded = load([manifest])
    assert [f.kind for f in loaded.rule_files] == ["manifest", "manifest"]
    assert [g.name for f in loaded.rule_files for g in f.groups] == ["from-manifest", "broken"]
    syntax = [f for f in result.findings if f.check == "promql/syntax"]
    assert [(f.line, f.rule) for f in syntax] == [(19, "r")]
    promtool = [f for f in result.findings if f.check == "promtool/check"]
    assert promtool
    assert all(f.path == str(manifest) for f in promtool)


def test_promtool_findings_in_manifests_point_at_manifest_lines(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(
        """\
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: acgs
  labels: {team: governance}
spec:
  groups:
    - name: g
      rules:
        - record: r
          expr: up
          exprr: x
    - name: g
      rules: []
"""
    )
    promtool = [f for f in lint([manifest]).findings if f.check == "promtool/check"]
    assert sorted((f.line, f.message) for f in promtool) == [
        (12, "field exprr not found in type rulefmt.RuleNode"),
    ]
    manifest.write_text(manifest.read_text().replace("          exprr: x\n", ""))
    promtool = [f for f in lint([manifest]).findings if f.check == "promtool/check"]
    assert [(f.line, "repeated" in f.message) for f in promtool] == [(12, True)]
    # An indentless groups list followed by another spec key maps line for line too.
    manifest.write_text(
        "kind: PrometheusRule\nspec:\n  groups:\n  - name: g\n    rules:\n"
        "    - record: r\n      expr: up\n      exprr: x\n  other: 1\n"
    )
    promtool = [f for f in lint([manifest]).findings if f.check == "promtool/check"]
    assert [(f.line, f.message) for f in promtool] == [
        (8, "field exprr not found in type rulefmt.RuleNode")
    ]


def test_directories_are_walked_and_other_configs_skipped(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.yml").write_text("groups: []\n")
    (tmp_path / "b.yaml").write_text("groups: []\n")
    (tmp_path / "alertmanager.yml").write_text("route: {receiver: x}\nreceivers: [{name: x}]\n")
    (tmp_path / "acgs-rules.yml").write_text("severities: [critical]\n")
    (tmp_path / "notes.txt").write_text("not yaml at all: [")
    loaded = load([tmp_path])
    assert sorted(Path(f.path).name for f in loaded.rule_files) == ["a.yml", "b.yaml"]
    assert loaded.findings == []


def test_walks_read_only_rule_files_and_manifests(tmp_path: Path) -> None:
    """Issue 15: docker-compose and other YAML in a walked tree were linted as rule files."""
    (tmp_path / "docker-compose.yml").write_text("services:\n  web: {image: nginx}\n")
    (tmp_path / "values.yaml").write_text("- just\n- a list\n")
    (tmp_path / "chart.yaml").write_text("name: {{ .Values.name }}\n  bad: [\n")
    (tmp_path / "broken-rules.yml").write_text("groups:\n- name: g\n  rules: [\n")
    (tmp_path / "ok.yml").write_text("groups: []\n")
    loaded = load([tmp_path])
    assert [Path(f.path).name for f in loaded.rule_files] == ["ok.yml"]
    assert sorted(Path(p).name for p in loaded.skipped) == [
        "chart.yaml",
        "docker-compose.yml",
        "values.yaml",
    ]
    # A file that means to be rules still gets its YAML error.
    ((name, check),) = {(Path(f.path).name, f.check) for f in loaded.findings}
    assert (name, check) == ("broken-rules.yml", "yaml/syntax")
    # Named on the command line, the same compose file is judged as a rule file would be.
    assert load([tmp_path / "docker-compose.yml"]).findings


def test_walking_skips_kubernetes_objects_and_prometheus_configs(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        "resources: [rules.yaml]\n"
    )
    (tmp_path / "prometheus.yml").write_text(
        "global: {scrape_interval: 15s}\nrule_files: [rules/*.yml]\n"
        "scrape_configs: [{job_name: p, static_configs: [{targets: [localhost:9090]}]}]\n"
    )
    (tmp_path / "datasources.yml").write_text(
        "apiVersion: 1\ndatasources: [{name: Prometheus, type: prometheus}]\n"
    )
    (tmp_path / "bundle.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n---\n"
        "apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata: {name: r}\n"
        "spec:\n  groups:\n    - name: g\n      rules: []\n"
    )
    loaded = load([tmp_path])
    assert loaded.findings == []
    assert loaded.test_files == []  # prometheus.yml has rule_files but is no test file
    assert [(Path(f.path).name, f.kind) for f in loaded.rule_files] == [("bundle.yaml", "manifest")]


def test_a_named_file_with_nothing_to_lint_is_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "cm.yaml"
    path.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
    (finding,) = load([path]).findings
    assert finding.severity is Severity.WARNING
    assert "Kubernetes ConfigMap object" in finding.message


def test_a_file_named_twice_is_read_once(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    rules = tmp_path / "rules" / "a.yml"
    rules.write_text(
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up == 0\n"
        "        labels: {severity: warning}\n"
    )
    loaded = load([tmp_path / "rules", rules, tmp_path / "rules" / ".." / "rules" / "a.yml"])
    assert len(loaded.rule_files) == 1
    result = lint([tmp_path / "rules", rules], promtool=False)
    assert [f for f in result.findings if f.check == "rules/duplicate"] == []


def test_missing_path_is_a_finding(tmp_path: Path) -> None:
    loaded = load([tmp_path / "nope.yml"])
    assert [f.message for f in loaded.findings] == ["no such file or directory"]


def test_not_utf8_is_a_finding(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yml"
    path.write_bytes(b"groups: [\xff]\n")
    loaded = load([path])
    assert loaded.findings
    assert loaded.findings[0].check == "yaml/syntax"


# --- hypothesis: whatever the input, findings or a clean result ------------------------

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.sampled_from(["up == 0", "rate(x[5m]) > 1", "sum(", "5m", "{{ $labels.x }}", "critical"]),
)
KEYS = st.sampled_from(
    [
        "groups",
        "name",
        "rules",
        "alert",
        "record",
        "expr",
        "for",
        "labels",
        "annotations",
        "interval",
        "severity",
        "summary",
        "runbook_url",
        "kind",
        "spec",
        "tests",
        "x",
    ]
)
DOCUMENTS = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=5),
    max_leaves=25,
)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(DOCUMENTS)
def test_any_yaml_structure_gives_findings_not_crashes(tmp_path: Path, document: Any) -> None:
    path = tmp_path / "fuzz.yml"
    path.write_text(yaml.safe_dump(document))
    result = lint([path], promtool=False)
    assert not [f for f in result.findings if "internal error" in f.message]


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(max_size=200))
def test_any_text_gives_findings_not_crashes(tmp_path: Path, text: str) -> None:
    path = tmp_path / "fuzz.yml"
    path.write_text(text, encoding="utf-8")
    result = lint([path], promtool=False)
    assert not [f for f in result.findings if "internal error" in f.message]


RULE_EXPRESSIONS = st.sampled_from(
    [
        "up == 0",
        "sum by (job) (rate(http_requests_total[5m])) > 1",
        "absent(up)",
        "histogram_quantile(0.9, sum by (le) "
        "(rate(acgs_http_request_duration_seconds_bucket[1m])))",
        "acgs_constitutional_compliance_score < 0.8",
        "rate(x[5m]",
        "",
        "vector(1)",
        "label_replace(up, 'a', '$1', 'job', '(.*)') == 0",
        "a / on(job) group_left b > 1",
    ]
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.fixed_dictionaries(
            {"alert": st.sampled_from(["A", "B", "C"]), "expr": RULE_EXPRESSIONS},
            optional={
                "for": st.sampled_from(["0s", "5s", "1m", "1h", "bad"]),
                "labels": st.dictionaries(
                    st.sampled_from(["severity", "service", "team"]),
                    st.sampled_from(["critical", "info", "x", "{{ $value }}"]),
                ),
                "annotations": st.dictionaries(
                    st.sampled_from(["summary", "description", "runbook_url"]),
                    st.sampled_from(["s", "{{ $labels.job }}", "{{ if }}", "rules/x.md#h", "{{"]),
                ),
            },
        ),
        max_size=6,
    )
)
def test_any_rule_combination_runs_every_check(tmp_path: Path, rules: list[dict[str, Any]]) -> None:
    path = tmp_path / "fuzz.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": rules}]}))
    am = tmp_path / "am.yml"
    am.write_text(
        "route:\n  receiver: x\n  routes:\n    - matchers: ['severity=\"critical\"']\n"
        "      receiver: y\nreceivers: [{name: x}, {name: y, webhook_configs: [{url: 'http://a'}]}]\n"
    )
    from acgs_rules.settings import LintSettings

    result = lint([path], LintSettings(alertmanager_config=am), promtool=False)
    assert not [f for f in result.findings if "internal error" in f.message]
    for finding in result.findings:
        assert finding.path
        assert finding.check
