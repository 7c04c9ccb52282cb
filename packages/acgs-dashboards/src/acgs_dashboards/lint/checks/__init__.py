"""Every check, in the order their findings are reported. Add a check: one module, one line.

The PromQL checks are acgs-promql's (each written once, shared with the rule linter); the
dashboard linter runs those that need no rule-file knowledge (``promql/compat`` and
``promql/range-window`` are the rule linter's; ``promql/rate-interval`` judges windows with
Grafana's ``$__interval`` in mind).
"""

from __future__ import annotations

from acgs_dashboards.lint.base import Check
from acgs_dashboards.lint.checks import (
    datasource,
    duplicates,
    legacy,
    panel_basics,
    rate_interval,
    schema,
    units,
    variables,
)
from acgs_dashboards.lint.checks.promql import dashboard_check
from acgs_promql.checks.registry import BY_NAME
from acgs_promql.index import RULES_LOAD
from acgs_promql.sources.code import SOURCE_LOAD

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
    *(
        dashboard_check(BY_NAME[name])
        for name in (
            "promql/syntax",
            "promql/unknown-metric",
            "promql/unknown-label",
            "promql/counter",
            "promql/histogram",
            "promql/series",  # with --prometheus
            "promql/label-value",  # with --prometheus
        )
    ),
    rate_interval.CHECK,
    units.CHECK,
)
# Reported by the runner, not by a check module: unreadable dashboards and rule files.
ALL_CHECK_NAMES = ("dashboard/load", RULES_LOAD, SOURCE_LOAD, *(check.name for check in CHECKS))
