"""``variable/refresh``: query variables refresh when the time range changes.

A variable refreshed only on load keeps the label values of the day the dashboard was
opened: a new service or instance never shows up until a reload.
"""

from __future__ import annotations

from collections.abc import Iterator

from acgs_dashboards.lint.base import Check, Context, Issue
from acgs_dashboards.model import Dashboard
from acgs_promql.findings import Severity

ON_TIME_RANGE_CHANGE = 2


def check(dashboard: Dashboard, ctx: Context) -> Iterator[Issue]:
    for variable in dashboard.variables:
        if variable.type == "query" and variable.raw.get("refresh") != ON_TIME_RANGE_CHANGE:
            yield Issue(
                Severity.WARNING,
                f"variable ${variable.name} does not refresh on time range change "
                '(set "refresh": 2)',
                variable=variable,
            )


REFRESH = Check("variable/refresh", "query variables refresh on time change", per_dashboard=check)
