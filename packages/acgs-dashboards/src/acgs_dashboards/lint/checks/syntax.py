"""``promql/syntax``: every query parses, after Grafana's variables are expanded.

A query that does not parse shows an error in its panel. So does a ``$variable`` the
dashboard does not define: Grafana leaves it in the text and Prometheus rejects the ``$``.
Variable queries (``label_values(...)``, ``query_result(...)``) are parsed too.
When the target's datasource type is not written down the query may be LogQL or another
language, so a parse error is then only a warning.
"""

from __future__ import annotations

from collections.abc import Iterator

from acgs_dashboards.lint.base import Check, Context, Issue
from acgs_dashboards.lint.queries import dashboard_queries
from acgs_dashboards.model import Dashboard
from acgs_rules.model import Severity
from acgs_rules.promql import PromQLError

NAME = "promql/syntax"


def check(dashboard: Dashboard, ctx: Context) -> Iterator[Issue]:
    for query in dashboard_queries(dashboard, ctx):
        what = f"query {query.target.ref_id}" if query.target else "the variable's query"
        severity = Severity.ERROR if query.surely_promql else Severity.WARNING
        if query.undefined:
            names = ", ".join(f"${n}" for n in dict.fromkeys(query.undefined))
            yield Issue(
                severity,
                f"{what} uses {names}, which the dashboard does not define: Grafana sends "
                "it as written and Prometheus rejects it",
                panel=query.panel,
                target=query.target,
                variable=query.variable,
            )
            continue
        if isinstance(query.parsed, PromQLError):
            expanded = (
                f" (after expanding variables: {query.text})"
                if query.text != query.original
                else ""
            )
            yield Issue(
                severity,
                f"{what} does not parse: {query.parsed}{expanded}",
                panel=query.panel,
                target=query.target,
                variable=query.variable,
            )


CHECK = Check(NAME, "every query parses after variable expansion", per_dashboard=check)
