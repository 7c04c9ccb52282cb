"""alert/test-coverage: every alert has a promtool unit test where it fires and one where it
must stay silent.

A test counts for an alert when its test file loads the alert's rule file (``rule_files``,
relative to the test file, globs allowed) and names the alert. It fires the alert when an
``exp_alerts`` entry carries the alert's static labels (so a ``severity: warning`` and a
``severity: critical`` variant of one name each need their own firing test); an entry for the
name that expects none of them (empty ``exp_alerts``, or only the other variant) proves it
silent, since promtool checks the full list of alerts of that name. A watchdog that reads no
metric (``vector(1)``) needs only the firing test.
"""

from __future__ import annotations

import glob
from collections.abc import Iterator
from pathlib import Path

from acgs_promql.findings import Finding, Severity
from acgs_rules.checks.base import Check
from acgs_rules.context import LintContext
from acgs_rules.model import AlertTest, Rule, TestFile


def _loaded_rule_files(test: TestFile) -> set[Path]:
    """The rule files promtool loads for ``test`` (paths resolved)."""
    result: set[Path] = set()
    for pattern in test.rule_files:
        full = Path(pattern) if Path(pattern).is_absolute() else test.path.parent / pattern
        matches = glob.glob(str(full)) if glob.has_magic(str(full)) else [str(full)]
        result.update(Path(match).resolve() for match in matches)
    return result


def _static_labels(rule: Rule) -> dict[str, str]:
    # Templated values depend on the series: they cannot tell variants apart.
    return {k: v for k, v in rule.labels.items() if "{{" not in v}


def _expects(test: AlertTest, labels: dict[str, str]) -> bool:
    return any(all(exp.get(k) == v for k, v in labels.items()) for exp in test.labels)


def run(ctx: LintContext) -> Iterator[Finding]:
    severity = Severity.ERROR if ctx.loaded.test_files else Severity.WARNING
    note = "" if ctx.loaded.test_files else " (no promtool test files among the inputs)"
    # By alert name, each test with the rule files its test file loads (one pass: alerts x
    # tests would be quadratic).
    by_name: dict[str, list[tuple[AlertTest, set[Path]]]] = {}
    for test_file in ctx.loaded.test_files:
        paths = _loaded_rule_files(test_file)
        for test in test_file.alert_tests:
            by_name.setdefault(test.alertname, []).append((test, paths))
    resolved: dict[str, Path] = {}
    for rule in ctx.alerts():
        if rule.path not in resolved:
            resolved[rule.path] = Path(rule.path).resolve()
        rule_path = resolved[rule.path]
        named = by_name.get(rule.name, [])
        mine = [test for test, paths in named if rule_path in paths]
        why = note
        if named and not mine:
            why = f" (tests name {rule.name}, but no test file lists {rule.path} in rule_files)"
        labels = _static_labels(rule)
        if not any(_expects(t, labels) for t in mine):
            shown = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()))
            yield ctx.finding(
                rule,
                CHECK.name,
                f"no unit test where {rule.name}"
                + (f" ({shown})" if shown else "")
                + f" fires (alert_rule_test with exp_alerts carrying its labels){why}",
                severity,
            )
        # A watchdog (`vector(1)`) fires at every evaluation: there is no silent case.
        if not ctx.always_fires(rule) and not any(not _expects(t, labels) for t in mine):
            yield ctx.finding(
                rule,
                CHECK.name,
                f"no unit test where {rule.name} must stay silent (alert_rule_test with empty "
                f"exp_alerts){why}",
                severity,
            )


CHECK = Check("alert/test-coverage", "every alert has a firing and a silent unit test", run)
