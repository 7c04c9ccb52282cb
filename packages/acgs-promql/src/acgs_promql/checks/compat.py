"""promql/compat: functions and aggregations exist on every Prometheus from the oldest
supported (``min_prometheus_version``, 2.42) to 3.x."""

from __future__ import annotations

from collections.abc import Iterator

from acgs_promql.checks.base import Check, Problem, Subject
from acgs_promql.language import AGGREGATORS_SINCE, FUNCTIONS, REMOVED_IN_3, version
from acgs_promql.tree import AggregateExpr, Call
from acgs_promql.walker import Visit


def on_node(visit: Visit, subject: Subject) -> Iterator[Problem]:
    expr = visit.node
    since: str | None
    if isinstance(expr, Call):
        name, since = expr.func, FUNCTIONS[expr.func].since
    elif isinstance(expr, AggregateExpr):
        name, since = expr.op, AGGREGATORS_SINCE.get(expr.op)
    else:
        return
    oldest = subject.options.min_prometheus_version
    if since and version(since) > version(oldest):
        yield Problem(
            f"{name} needs Prometheus {since}; the expression must also run on {oldest}",
            position=expr.pos,
        )
    if name in REMOVED_IN_3:
        yield Problem(
            f"{name} is not available in Prometheus 3 (renamed to {REMOVED_IN_3[name]})",
            position=expr.pos,
        )


CHECK = Check(
    "promql/compat", "works on Prometheus 2.42 and 3.x", (Call, AggregateExpr), on_node=on_node
)
