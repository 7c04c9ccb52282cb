"""The static checks, one module each, registered in :data:`CHECKS` (run in this order)."""

from __future__ import annotations

from acgs_rules.checks import (
    comparison,
    compat,
    counter,
    detection_latency,
    duplicate,
    for_duration,
    group_interval,
    histogram,
    range_window,
    required,
    routing,
    runbook,
    syntax,
    template,
    test_coverage,
    unknown_label,
    unknown_metric,
)
from acgs_rules.checks.base import Check

CHECKS: tuple[Check, ...] = (
    syntax.CHECK,
    compat.CHECK,
    unknown_metric.CHECK,
    unknown_label.CHECK,
    counter.CHECK,
    histogram.CHECK,
    range_window.CHECK,
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
)

# Checks that are not static modules but still have a name (and a doc page).
OTHER_CHECK_NAMES = ("yaml/syntax", "rule/schema", "promtool/check")
ALL_CHECK_NAMES = tuple(c.name for c in CHECKS) + OTHER_CHECK_NAMES

__all__ = ["ALL_CHECK_NAMES", "CHECKS", "Check"]
