"""The repository's own rule set: promtool passes, the linter is clean, contracts hold."""

from __future__ import annotations

import subprocess

import yaml

from acgs_rules.lint import lint
from acgs_rules.loader import load
from acgs_rules.promtool import run_unit_tests
from acgs_rules.settings import LintSettings
from acgs_testkit.paths import REPO_ROOT

RULES = REPO_ROOT / "rules"
SETTINGS = RULES / "config" / "acgs-rules.yml"

# The fault -> alert contract other branches test against.
FAULT_ALERTS = {
    "compliance_drop": "ACGSComplianceScoreLow",
    "error_rate": "ACGSHighErrorRate",
    "slow_synthesis": "ACGSPolicySynthesisSlow",
    "unresponsive": "ACGSServiceDown",
    "cost_spike": "ACGSGovernanceActionCostSpike",
}


def test_promtool_unit_tests_pass() -> None:
    result = run_unit_tests(sorted((RULES / "tests").glob("*.yml")))
    assert result.ok, result.output


def test_linter_is_clean_on_the_rules() -> None:
    result = lint([RULES], LintSettings.from_file(SETTINGS))
    assert result.findings == []
    assert result.rules >= 40
    assert result.tests == 6


def test_reference_alertmanager_config_passes_amtool() -> None:
    result = subprocess.run(
        ["amtool", "check-config", str(RULES / "config" / "alertmanager.reference.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_fault_alerts_exist_and_carry_service() -> None:
    loaded = load([RULES])
    alerts = {r.name: r for f in loaded.rule_files for g in f.groups for r in g.rules}
    for alert in FAULT_ALERTS.values():
        assert alert in alerts
        tests = [t for f in loaded.test_files for t in f.alert_tests if t.alertname == alert]
        fired = [labels for t in tests for labels in t.labels]
        assert any("service" in labels for labels in fired), alert


def test_every_alert_has_severity_in_the_allowed_set_and_a_runbook() -> None:
    loaded = load([RULES])
    for rule_file in loaded.rule_files:
        for group in rule_file.groups:
            for rule in (r for r in group.rules if r.is_alert):
                assert rule.labels["severity"] in ("critical", "warning", "info")
                url = rule.annotations["runbook_url"]
                assert url.startswith("https://github.com/acgs/acgs-monitoring/blob/main/rules/")


def test_detection_targets_for_critical_alerts_hold_without_silencing() -> None:
    settings = LintSettings.from_file(SETTINGS)
    result = lint([RULES], settings, promtool=False)
    assert not [f for f in result.findings if f.check == "alert/detection-latency"]
    text = "".join(p.read_text() for p in RULES.glob("*.yml"))
    # Only the slow-by-design alerts (SLO burn windows, disk fill) silence the latency check.
    assert text.count("disable=alert/detection-latency") == 4


def test_rule_files_load_in_plain_yaml() -> None:
    for path in RULES.glob("*.yml"):
        assert "groups" in yaml.safe_load(path.read_text())
