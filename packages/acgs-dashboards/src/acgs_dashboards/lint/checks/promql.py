"""The PromQL checks of :mod:`acgs_promql`, run over every query of a dashboard.

The check says what is wrong in the query; this adapter says which panel, target or
variable it is in (the runner adds the file, the line and the silencing).
"""

from __future__ import annotations

from collections.abc import Iterator

from acgs_dashboards.lint.base import Check, Context, Issue
from acgs_dashboards.lint.queries import dashboard_queries
from acgs_dashboards.model import Dashboard
from acgs_promql.checks.base import Check as PromQLCheck


def dashboard_check(check: PromQLCheck) -> Check:
    """``check`` as a dashboard-linter check."""

    def per_dashboard(dashboard: Dashboard, ctx: Context) -> Iterator[Issue]:
        for query in dashboard_queries(dashboard, ctx):
            for problem in check.run(query.expression, ctx.index, ctx.promql):
                yield Issue(
                    problem.severity,
                    problem.message,
                    panel=query.panel,
                    target=query.target,
                    variable=query.variable,
                )

    return Check(check.name, check.summary, per_dashboard=per_dashboard)
