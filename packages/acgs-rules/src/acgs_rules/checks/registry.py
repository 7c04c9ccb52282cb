"""Every check of the rule linter, in the order they run: the PromQL checks of
:mod:`acgs_promql` (each written once, shared with the dashboard linter), then the
rule-level ones. Add a rule-level check: one module, one line."""

from __future__ import annotations

from acgs_promql.checks.registry import CHECKS as PROMQL_CHECKS
from acgs_promql.sources.code import SOURCE_LOAD
from acgs_rules.checks import (
    backtest,
    comparison,
    detection_latency,
    duplicate,
    for_duration,
    group_fields,
    group_interval,
    required,
    routing,
    runbook,
    template,
    test_coverage,
)
from acgs_rules.checks.base import Check
from acgs_rules.checks.promql import rule_check

__all__ = ["ALL_CHECK_NAMES", "CHECKS", "OTHER_CHECK_NAMES"]

CHECKS: tuple[Check, ...] = (
    *(rule_check(check) for check in PROMQL_CHECKS),
    group_fields.CHECK,
    comparison.CHECK,
    duplicate.CHECK,
    required.CHECK,
    template.CHECK,
    for_duration.CHECK,
    group_interval.CHECK,
    routing.CHECK,
    test_coverage.CHECK,
    runbook.CHECK,
    detection_latency.CHECK,
    backtest.CHECK,
)

# Checks that are not static modules but still have a name (and a doc page).
OTHER_CHECK_NAMES = ("yaml/syntax", "rule/schema", "promtool/check", SOURCE_LOAD)
ALL_CHECK_NAMES = (*dict.fromkeys(c.name for c in CHECKS), *OTHER_CHECK_NAMES)
