"""alert/test-coverage: every alert has a promtool unit test where it fires and one where it
must stay silent (an ``alert_rule_test`` entry with empty ``exp_alerts``)."""

from __future__ import annotations

from collections.abc import Iterator

from acgs_rules.checks.base import Check
from acgs_rules.context import LintContext
from acgs_rules.model import Finding, Severity


def run(ctx: LintContext) -> Iterator[Finding]:
    tests = [t for f in ctx.loaded.test_files for t in f.alert_tests]
    severity = Severity.ERROR if ctx.loaded.test_files else Severity.WARNING
    note = "" if ctx.loaded.test_files else " (no promtool test files among the inputs)"
    for rule in ctx.alerts():
        mine = [t for t in tests if t.alertname == rule.name]
        if not any(t.fires for t in mine):
            yield ctx.finding(
                rule,
                CHECK.name,
                f"no unit test where {rule.name} fires (alert_rule_test with exp_alerts){note}",
                severity,
            )
        if not any(not t.fires for t in mine):
            yield ctx.finding(
                rule,
                CHECK.name,
                f"no unit test where {rule.name} must stay silent (alert_rule_test with empty "
                f"exp_alerts){note}",
                severity,
            )


CHECK = Check("alert/test-coverage", "every alert has a firing and a silent unit test", run)
