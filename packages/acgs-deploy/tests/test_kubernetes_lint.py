"""`acgs-rules lint` reads the rendered PrometheusRules as it reads the rule files: the same
findings (static checks and promtool's), each on the manifest line of the same rule line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from acgs_deploy.k8s.rules import RuleManifest, rule_manifests
from acgs_deploy.settings import REPO_ROOT
from acgs_promql.findings import Finding
from acgs_rules.checks.registry import ALL_CHECK_NAMES
from acgs_rules.lint import lint
from acgs_rules.settings import LintSettings

SETTINGS = REPO_ROOT / "rules" / "config" / "acgs-rules.yml"

# Problems of every kind the linter reports: a PromQL syntax error (promtool and the parser),
# missing labels and annotations, a short `for`, a group interval, a silenced check.
FLAWED = """# A rule file with problems on purpose.
groups:
  - name: flawed
    interval: 2m
    rules:
      # First: the comment above a rule also silences the rule before it (acgs_rules.loader).
      # acgs-rules disable=alert/for
      - alert: Silenced
        expr: acgs_also_unknown > 0
        labels:
          severity: warning
      - alert: BrokenExpr
        expr: sum(rate(acgs_http_requests_total[5m])
        labels:
          severity: critical
      - alert: UnknownMetric
        expr: acgs_no_such_metric_total > 0
        for: 1s
        annotations:
          summary: "unknown"
"""


def manifests_into(rules_dir: Path, out: Path) -> dict[str, RuleManifest]:
    out.mkdir()
    written = {}
    for manifest in rule_manifests(rules_dir, "monitoring"):
        path = out / f"40-{manifest.name}.yaml"
        path.write_text(manifest.text)
        written[str(manifest.source)] = manifest
        written[str(path)] = manifest
    return written


def as_manifest(finding: Finding, manifests: dict[str, RuleManifest], out: Path) -> Finding:
    manifest = manifests[finding.path]
    line = finding.line + manifest.offset if finding.line else 0
    return Finding(
        str(out / f"40-{manifest.name}.yaml"),
        line,
        finding.check,
        finding.severity,
        finding.message.replace(finding.path, str(out / f"40-{manifest.name}.yaml")),
        finding.rule,
    )


@pytest.mark.parametrize("with_flaws", [False, True])
def test_lint_finds_the_same_on_manifests(tmp_path: Path, with_flaws: bool) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    for source in (REPO_ROOT / "rules").glob("*.yml"):
        shutil.copy(source, rules / source.name)
    if with_flaws:
        (rules / "flawed.yml").write_text(FLAWED)
    out = tmp_path / "k8s"
    manifests = manifests_into(rules, out)
    settings = LintSettings.from_file(SETTINGS, ALL_CHECK_NAMES)
    on_rules = lint(sorted(rules.glob("*.yml")), settings)
    on_manifests = lint([out], settings)
    assert on_rules.rules == on_manifests.rules > 0
    assert on_rules.files == on_manifests.files
    expected = sorted({as_manifest(f, manifests, out) for f in on_rules.findings})
    assert sorted(set(on_manifests.findings)) == expected
    if with_flaws:
        checks = {f.check for f in on_manifests.findings}
        assert {"promtool/check", "promql/syntax", "alert/required", "group/interval"} <= checks
        assert any(
            f.rule == "UnknownMetric" and f.check == "alert/for" for f in on_manifests.findings
        )
        assert not any(
            f.rule == "Silenced" and f.check == "alert/for" for f in on_manifests.findings
        )
    # Each finding's line holds, in the manifest, the text the rule file has on its line.
    for finding in on_rules.findings:
        if finding.line and finding.path in manifests:
            manifest = manifests[finding.path]
            source_line = Path(finding.path).read_text().splitlines()[finding.line - 1]
            manifest_line = manifest.text.splitlines()[finding.line + manifest.offset - 1]
            assert manifest_line.strip() == source_line.strip()
