"""``promql/unknown-metric`` and ``promql/unknown-label``.

Known metrics: the ACGS catalog (with ``_bucket``/``_sum``/``_count``), names recorded by
the rules in ``rules/``, and the exporter lists the rule linter ships (node_exporter,
Prometheus, Alertmanager, haproxy, redis, postgres). An unknown ``acgs_`` metric is an
error (the catalog is the truth about them); any other unknown metric is a warning, since
the dashboard may read an exporter we have no list for.

Labels are checked on catalog metrics only (exporter lists carry no labels): a matcher or
``by``/``without`` label the metric does not have, or an equality matcher whose value the
catalog never allows, selects nothing.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from acgs_dashboards.lint.base import Check, Context, Issue
from acgs_dashboards.lint.queries import Query, dashboard_queries, from_variable
from acgs_dashboards.model import Dashboard
from acgs_rules.checks.unknown_label import missing_grouping_labels
from acgs_rules.model import Severity


def _issue(query: Query, severity: Severity, message: str) -> Issue:
    return Issue(severity, message, panel=query.panel, target=query.target, variable=query.variable)


def unknown_metrics(dashboard: Dashboard, ctx: Context) -> Iterator[Issue]:
    for query in dashboard_queries(dashboard, ctx):
        if query.analysis is None:
            continue
        reported: set[str] = set()
        for use in query.analysis.selectors:
            name = use.name
            if name is None or name in reported or from_variable(name):
                continue
            if ctx.index.get(name) is not None:
                continue
            reported.add(name)
            close = difflib.get_close_matches(name, ctx.index.infos.keys(), n=1, cutoff=0.85)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            ours = name.startswith(("acgs_", "acgs:"))
            yield _issue(
                query,
                Severity.ERROR if ours else Severity.WARNING,
                f"unknown metric {name!r}: not in the ACGS catalog, not recorded by any rule, "
                f"not a known exporter metric{hint}",
            )


def _labels(ctx: Context, name: str | None) -> frozenset[str] | None:
    info = ctx.index.get(name) if name else None
    if info is None or info.labels is None:
        return None
    return info.labels | ctx.options.target_labels


def unknown_labels(dashboard: Dashboard, ctx: Context) -> Iterator[Issue]:
    for query in dashboard_queries(dashboard, ctx):
        if query.tree is None or query.analysis is None:
            continue
        for use in query.analysis.selectors:
            allowed = _labels(ctx, use.name)
            if allowed is None:
                continue
            info = ctx.index.get(use.name or "")
            spec = info.spec if info else None
            for matcher in use.matchers:
                if from_variable(matcher.name) or from_variable(matcher.value):
                    continue
                if matcher.name not in allowed:
                    yield _issue(
                        query,
                        Severity.ERROR,
                        f"{use.name} has no label {matcher.name!r} (labels: "
                        f"{', '.join(sorted(allowed))}), so this matcher never matches as meant",
                    )
                    continue
                if spec is None or matcher.name not in spec.label_names:
                    continue
                allowed_values = spec.label(matcher.name).values
                if allowed_values is None or matcher.op not in ("=", "=~"):
                    continue
                if not any(matcher.matches(v) for v in allowed_values):
                    yield _issue(
                        query,
                        Severity.ERROR,
                        f"{use.name}{{{matcher.name}{matcher.op}{matcher.value!r}}} matches no "
                        f"allowed value ({', '.join(allowed_values)})",
                    )
        for missing in missing_grouping_labels(query.tree, lambda name: _labels(ctx, name)):
            if not from_variable(missing.label):
                yield _issue(query, Severity.ERROR, missing.message())


UNKNOWN_METRIC = Check(
    "promql/unknown-metric", "every metric a query reads exists", per_dashboard=unknown_metrics
)
UNKNOWN_LABEL = Check(
    "promql/unknown-label", "labels used on catalog metrics exist", per_dashboard=unknown_labels
)
