"""The PromQL of a dashboard, variables expanded, parsed once for every check.

Variables are expanded the way the linter can know them: a concrete current value is used
as is; "All", or a variable with no known value, becomes a placeholder name
(``acgs_var_<name>``: a valid label value, regex, label name and metric name) that the
checks recognise and skip. ``$__interval``
and ``$__rate_interval`` become 1m-ish durations; ``$__range`` the dashboard's range.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from acgs_dashboards.datasources import resolve
from acgs_dashboards.lint.base import Context
from acgs_dashboards.model import Dashboard, Panel, Target, Variable
from acgs_dashboards.queryload import QueryLoadError, parse_time
from acgs_dashboards.variables import Scope, interpolate, variable_names
from acgs_promql.expression import Expression, Role

__all__ = ["PLACEHOLDER", "Query", "dashboard_queries", "from_variable", "lint_scope"]

PLACEHOLDER = "acgs_var_"
_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(.+?)\s*,\s*\w+\s*\)\s*$", re.S)
_QUERY_RESULT = re.compile(r"^\s*query_result\(\s*(.+)\s*\)\s*$", re.S)


def from_variable(text: str | None) -> bool:
    """True when a name or value came from a variable the linter could not know."""
    return text is not None and PLACEHOLDER in text


def _values(variable: Variable) -> tuple[list[str], bool]:
    """(values, multi) the linter assumes for a variable."""
    current = [v for v in variable.current_values if v]
    if variable.type == "interval":
        # "$__auto_interval_<name>" (auto option) or nothing known: any duration parses.
        value = (current or variable.options or ["1m"])[0]
        return ["1m" if "$" in value or not value.strip() else value], False
    if "$__all" in current or (variable.include_all and not current):
        # Not ".*": in an equality matcher (a repeated row's service="$service") that
        # would look like a value no series has.
        return [f"{PLACEHOLDER}{variable.name}"], False
    if current and not any("$" in v for v in current):
        return current, len(current) > 1
    if variable.type in {"constant", "textbox"} and variable.query:
        return [variable.query], False
    return [f"{PLACEHOLDER}{variable.name}"], False


def lint_scope(dashboard: Dashboard, ctx: Context) -> Scope:
    values: dict[str, list[str]] = {}
    multi: set[str] = set()
    for variable in dashboard.variables:
        values[variable.name], is_multi = _values(variable)
        if is_multi:
            multi.add(variable.name)
    time_from, time_to = dashboard.time_range()
    try:
        range_s = max(60.0, parse_time(time_to, 0) - parse_time(time_from, 0))
    except QueryLoadError:
        range_s = 3600.0
    return Scope(
        values=values,
        multi=frozenset(multi),
        interval_s=60,
        scrape_interval_s=ctx.options.scrape_interval_s,
        range_s=range_s,
    )


@dataclass
class Query:
    """One PromQL text of a dashboard: a panel target, or a variable's query."""

    original: str
    text: str  # variables expanded
    panel: Panel | None = None
    target: Target | None = None
    variable: Variable | None = None
    # False when the datasource type is not written down: a parse error may be LogQL.
    surely_promql: bool = True

    @property
    def undefined(self) -> list[str]:
        """Variables still in the text after expansion: the dashboard does not define them."""
        # $1 is a label_replace back-reference, not a variable.
        return [n for n in variable_names(self.text) if not n.startswith("__") and not n.isdigit()]

    @cached_property
    def expression(self) -> Expression:
        """The query for the PromQL checks: a panel's range query, or an instant query (an
        instant target, a variable's query); parsed and walked once for every check."""
        instant = self.variable is not None or (self.target is not None and self.target.instant)
        return Expression(
            self.text,
            Role.INSTANT if instant else Role.PANEL,
            original=self.original,
            undefined_variables=tuple(self.undefined),
            surely_promql=self.surely_promql,
        )


_DURATION_SLOT = re.compile(r"(\[\s*|offset\s+|\[[^\]]*:\s*)\$\{?(\w+)(?::\w+)?\}?")


def expand(text: str, scope: Scope) -> str:
    """``text`` with variables expanded; an unknown variable in a range or offset is 1m."""

    def duration(match: re.Match[str]) -> str:
        values = scope.values.get(match.group(2))
        if values and len(values) == 1 and values[0].startswith(PLACEHOLDER):
            return f"{match.group(1)}1m"
        return match.group(0)

    return interpolate(_DURATION_SLOT.sub(duration, text), scope)


def _variable_query(variable: Variable, scope: Scope) -> Query | None:
    if variable.type != "query":
        return None
    for pattern in (_LABEL_VALUES, _QUERY_RESULT):
        match = pattern.match(variable.query)
        if match:
            original = match.group(1)
            return Query(original, expand(original, scope), variable=variable)
    return None


def dashboard_queries(dashboard: Dashboard, ctx: Context) -> list[Query]:
    """Every PromQL query of the dashboard (cached on the context)."""
    cached = ctx.cache.get(id(dashboard))
    if isinstance(cached, list):
        return cached
    scope = lint_scope(dashboard, ctx)
    queries: list[Query] = []
    for panel in dashboard.panels:
        for target in panel.targets:
            if target.expr is None or not target.expr.strip():
                continue
            raw = target.datasource if target.datasource is not None else panel.datasource
            prometheus = resolve(raw, dashboard).is_prometheus
            if prometheus is False:
                continue
            queries.append(
                Query(
                    target.expr,
                    expand(target.expr, scope),
                    panel=panel,
                    target=target,
                    surely_promql=prometheus is True,
                )
            )
    for variable in dashboard.variables:
        ds = resolve(variable.datasource, dashboard).is_prometheus
        query = _variable_query(variable, scope) if ds is not False else None
        if query is not None:
            queries.append(query)
    ctx.cache[id(dashboard)] = queries
    return queries
