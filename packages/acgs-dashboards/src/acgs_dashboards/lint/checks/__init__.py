"""Every check, in the order their findings are reported. Add a check: one module, one line."""

from __future__ import annotations

from acgs_dashboards.lint.base import Check
from acgs_dashboards.lint.checks import (
    counter,
    datasource,
    duplicates,
    histogram,
    legacy,
    metrics,
    panel_basics,
    rate_interval,
    schema,
    syntax,
    units,
    variables,
)

CHECKS: tuple[Check, ...] = (
    schema.CHECK,
    duplicates.UID,
    duplicates.TITLE,
    duplicates.PANELS,
    datasource.REFERENCE,
    datasource.VARIABLE,
    variables.REFRESH,
    legacy.CHECK,
    panel_basics.TARGETS,
    panel_basics.TITLE_DESCRIPTION,
    panel_basics.UNITS,
    syntax.CHECK,
    metrics.UNKNOWN_METRIC,
    metrics.UNKNOWN_LABEL,
    counter.CHECK,
    histogram.CHECK,
    rate_interval.CHECK,
    units.CHECK,
)
# Reported by the runner, not by a check module: unreadable dashboards and rule files.
ALL_CHECK_NAMES = ("dashboard/load", "rules/load", *(check.name for check in CHECKS))
