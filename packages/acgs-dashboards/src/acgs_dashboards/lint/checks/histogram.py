"""``promql/histogram``: ``histogram_quantile`` over ``_bucket`` rates that keep ``le``.

``sum by (service) (rate(x_bucket[...]))`` drops ``le`` and the quantile comes back empty;
a quantile over ``_sum``/``_count`` or a gauge is meaningless; over raw buckets it is the
quantile since the process started, not of the time shown.
"""

from __future__ import annotations

from collections.abc import Iterator

from acgs_dashboards.lint.base import Check, Context, Issue
from acgs_dashboards.lint.queries import Query, dashboard_queries
from acgs_dashboards.model import Dashboard
from acgs_rules.model import Severity
from acgs_rules.promql import Call, NumberLiteral, analyze, output_labels, walk


def _issue(query: Query, severity: Severity, message: str) -> Issue:
    return Issue(severity, message, panel=query.panel, target=query.target)


def check(dashboard: Dashboard, ctx: Context) -> Iterator[Issue]:
    for query in dashboard_queries(dashboard, ctx):
        if query.tree is None:
            continue
        for node in walk(query.tree):
            if not isinstance(node, Call) or node.func != "histogram_quantile":
                continue
            phi, buckets = node.args
            if isinstance(phi, NumberLiteral) and not 0 <= phi.value <= 1:
                yield _issue(query, Severity.ERROR, f"quantile {phi.value:g} is outside 0..1")
            for use in analyze(buckets).selectors:
                name = use.name
                if name is None:
                    continue
                info = ctx.index.get(name)
                if "_bucket" not in name and info is not None and info.source != "recording rule":
                    if info.type == "histogram" and info.spec is None:
                        continue  # a native histogram: no _bucket series
                    hint = ""
                    if info.family and ctx.index.get(f"{info.family}_bucket"):
                        hint = f"; use {info.family}_bucket"
                    yield _issue(
                        query,
                        Severity.ERROR,
                        f"histogram_quantile over {name}, which is not a _bucket series{hint}",
                    )
                elif "_bucket" in name and use.function is None:
                    yield _issue(
                        query,
                        Severity.WARNING,
                        f"histogram_quantile over raw {name}: buckets count since the process "
                        f"started; use rate({name}[$__rate_interval])",
                    )
            if output_labels(buckets).has("le") is False:
                yield _issue(
                    query,
                    Severity.ERROR,
                    "histogram_quantile needs the 'le' label, but the query aggregates it "
                    "away: keep it, e.g. sum by (le, service) (rate(x_bucket[$__rate_interval]))",
                )


CHECK = Check(
    "promql/histogram", "histogram_quantile over _bucket rates that keep le", per_dashboard=check
)
