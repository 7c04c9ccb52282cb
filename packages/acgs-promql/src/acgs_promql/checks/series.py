"""promql/series: every metric an expression reads has series in the live Prometheus.

Only with ``--prometheus``. A name with no series over the lookback window makes the
expression read nothing: an alert on it never fires. It is an error when no other source
knows the name either (a typo, or a metric nothing exposes), a warning when one does (the
exporter or service may not be scraped by this server yet). Not reported: series that a
rule being linted records (a new recording rule has no series before it is deployed),
selectors inside ``absent()``/``absent_over_time()`` and on either side of ``or`` (the
author planned for the absence), and names from unknowable dashboard variables.
"""

from __future__ import annotations

from collections.abc import Iterator

from acgs_promql.checks.base import Check, Problem, Subject
from acgs_promql.durations import format_duration
from acgs_promql.findings import Severity
from acgs_promql.tree import BinaryExpr, VectorSelector
from acgs_promql.walker import Visit

ABSENCE_FUNCTIONS = frozenset({"absent", "absent_over_time"})


def expects_absence(visit: Visit) -> bool:
    """The selector's author planned for it to have no series."""
    if visit.function in ABSENCE_FUNCTIONS:
        return True
    return any(isinstance(a.node, BinaryExpr) and a.node.op == "or" for a in visit.ancestors())


def first_use(visit: Visit, subject: Subject, name: str) -> bool:
    """Each name is reported once per expression, at its first selector."""
    for other in subject.walk.of_kind(VectorSelector):
        if isinstance(other.node, VectorSelector) and other.node.name == name:
            return other is visit
    return True


def on_node(visit: Visit, subject: Subject) -> Iterator[Problem]:
    live = subject.options.live
    selector = visit.node
    name = selector.name if isinstance(selector, VectorSelector) else None
    if live is None or name is None or subject.options.from_variable(name):
        return
    metric = live.metric(name)
    if metric is None or metric.series or subject.index.is_recorded(name):
        return
    if expects_absence(visit) or not first_use(visit, subject, name):
        return
    info = subject.index.get(name)
    known = info is not None or any(p.fullmatch(name) for p in subject.options.extra_patterns)
    source = f" ({info.origin} knows it: is it scraped here?)" if info is not None else ""
    yield Problem(
        f"{name!r} has no series in {live.url} over the last {format_duration(live.lookback_s)}: "
        f"this expression reads nothing{source}",
        Severity.WARNING if known else Severity.ERROR,
        selector.pos,
    )


CHECK = Check(
    "promql/series", "metrics have series in the live Prometheus", (VectorSelector,), on_node
)
