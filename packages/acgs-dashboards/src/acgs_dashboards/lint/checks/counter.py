"""``promql/counter``: rate() only on counters, and counters never shown raw.

``rate``/``irate``/``increase``/``resets`` on a gauge treat every drop as a counter reset
and draw nonsense (error). A counter shown without ``rate``/``increase`` is a line that
only climbs since the process started, and drops to zero on every restart (warning).
``deriv``/``delta`` on a counter ignore resets (warning). ``rate`` on an exporter's
histogram family name (no ``_bucket`` suffix) reads its native histogram: that is fine.
"""

from __future__ import annotations

from collections.abc import Iterator

from acgs_dashboards.lint.base import Check, Context, Issue
from acgs_dashboards.lint.queries import dashboard_queries
from acgs_dashboards.model import Dashboard
from acgs_rules.model import Severity

COUNTER_FUNCTIONS = {"rate", "irate", "increase", "resets"}
GAUGE_FUNCTIONS = {"deriv", "delta", "idelta", "predict_linear"}
# Aggregations that count series rather than add their values.
COUNTING = {"count", "group", "count_values"}


def check(dashboard: Dashboard, ctx: Context) -> Iterator[Issue]:
    for query in dashboard_queries(dashboard, ctx):
        if query.analysis is None or query.variable is not None:
            continue
        has_offset = any(u.selector.offset is not None for u in query.analysis.selectors)
        for use in query.analysis.selectors:
            if use.name is None:
                continue
            is_counter = ctx.index.is_counter(use.name)
            info = ctx.index.get(use.name)
            if info is not None and info.type == "histogram" and info.spec is None:
                continue  # a native histogram: rate() and increase() are meant for it
            if use.function in COUNTER_FUNCTIONS and is_counter is False:
                kind = info.type if info else "not a counter"
                yield Issue(
                    Severity.ERROR,
                    f"{use.function}() on {use.name}, a {kind}: {use.function} assumes a "
                    "counter and treats every drop as a reset; use deriv() or delta() for "
                    "gauges, or show the gauge as it is",
                    panel=query.panel,
                    target=query.target,
                )
            elif use.function in GAUGE_FUNCTIONS and is_counter is True:
                yield Issue(
                    Severity.WARNING,
                    f"{use.function}() on counter {use.name} ignores counter resets; use "
                    f"rate() or increase()",
                    panel=query.panel,
                    target=query.target,
                )
            elif (
                is_counter is True
                and use.function is None
                and not has_offset
                and not COUNTING & set(use.aggregations)
                and not use.name.endswith("_bucket")  # promql/histogram speaks about those
            ):
                yield Issue(
                    Severity.WARNING,
                    f"counter {use.name} is shown raw: it only climbs and resets on restart; "
                    f"show rate({use.name}[$__rate_interval]) or increase(...)",
                    panel=query.panel,
                    target=query.target,
                )


CHECK = Check(
    "promql/counter", "rate on counters only; counters not shown raw", per_dashboard=check
)
