"""``promql/rate-interval``: rate windows that always hold enough samples.

``rate(x[$__interval])`` breaks when you zoom in: ``$__interval`` shrinks below two
scrape intervals and the panel shows gaps. ``$__rate_interval`` is never shorter than four
scrape intervals. A fixed window under two scrape intervals has the same problem. Fixed
windows that are long enough (an SLO's ``[1h]``) are fine.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from acgs_dashboards.lint.base import Check, Context, Issue
from acgs_dashboards.lint.queries import dashboard_queries
from acgs_dashboards.model import Dashboard
from acgs_promql.durations import format_duration
from acgs_promql.findings import Severity
from acgs_promql.language import TWO_SAMPLE_FUNCTIONS

_INTERVAL_WINDOW = re.compile(r"\[\s*(\$__interval|\$\{__interval\}|\[\[__interval\]\])\s*[\]:]")
_VARIABLE_WINDOW = re.compile(r"\[\s*\$(?!__)|\[\s*\$\{(?!__)")


def check(dashboard: Dashboard, ctx: Context) -> Iterator[Issue]:
    scrape = ctx.options.scrape_interval_s
    for query in dashboard_queries(dashboard, ctx):
        analysis = query.expression.analysis
        if analysis is None or query.target is None:
            continue
        if _INTERVAL_WINDOW.search(query.original):
            yield Issue(
                Severity.WARNING,
                "a range of $__interval can be shorter than two scrapes when zoomed in, and "
                "the panel shows gaps; use $__rate_interval",
                panel=query.panel,
                target=query.target,
            )
            continue
        if _VARIABLE_WINDOW.search(query.original):
            continue  # the window comes from a variable: its length is not known here
        for use in analysis.selectors:
            window = use.range_seconds
            if use.function in TWO_SAMPLE_FUNCTIONS and window is not None and window < 2 * scrape:
                yield Issue(
                    Severity.WARNING,
                    f"{use.function}({use.name}[{format_duration(window)}]): the window holds "
                    f"fewer than two scrapes (every {format_duration(scrape)}), so the panel "
                    "shows gaps; use $__rate_interval",
                    panel=query.panel,
                    target=query.target,
                )
                break


CHECK = Check("promql/rate-interval", "rate windows hold at least two scrapes", per_dashboard=check)
