"""promql/label-value: each label matcher selects values the live Prometheus has seen.

Only with ``--prometheus``, and only on metrics that have series there (``promql/series``
reports the others). ``name="v"`` or ``name=~"re"`` on a metric none of whose series over
the lookback window carries ``name``, or a matching value, selects nothing: a warning, as
the value may just not have happened yet (``code="500"``). Negative matchers and
``name=""`` (the label is absent) are not checked, nor values from unknowable dashboard
variables, nor selectors whose absence the author planned for (see ``promql/series``).
"""

from __future__ import annotations

from collections.abc import Iterator

from acgs_promql.checks.base import Check, Problem, Subject
from acgs_promql.checks.series import expects_absence
from acgs_promql.durations import format_duration
from acgs_promql.findings import Severity
from acgs_promql.tree import VectorSelector
from acgs_promql.walker import Visit

SHOWN_VALUES = 5  # values listed in a finding; more are counted


def _seen(values: frozenset[str]) -> str:
    shown = ", ".join(repr(v) for v in sorted(values)[:SHOWN_VALUES])
    more = len(values) - SHOWN_VALUES
    return f"{shown} and {more} more" if more > 0 else shown


def on_node(visit: Visit, subject: Subject) -> Iterator[Problem]:
    live = subject.options.live
    selector = visit.node
    if live is None or not isinstance(selector, VectorSelector) or selector.name is None:
        return
    metric = live.metric(selector.name)
    if metric is None or not metric.series or expects_absence(visit):
        return
    window = format_duration(live.lookback_s)
    for matcher in selector.label_matchers():
        if matcher.op not in ("=", "=~") or matcher.matches(""):
            continue
        if subject.options.from_variable(matcher.name) or subject.options.from_variable(
            matcher.value
        ):
            continue
        values = metric.labels.get(matcher.name)
        if values is None:
            labels = ", ".join(sorted(metric.labels)) or "none"
            message = (
                f"no series of {selector.name} has a {matcher.name!r} label in {live.url} over "
                f"the last {window} (labels seen: {labels}), so {matcher} selects nothing"
            )
        elif not any(matcher.matches(v) for v in values):
            message = (
                f"no series of {selector.name} has {matcher} in {live.url} over the last "
                f"{window} (values seen: {_seen(values)})"
            )
        else:
            continue
        yield Problem(message, Severity.WARNING, selector.pos)


CHECK = Check(
    "promql/label-value",
    "label matchers select values the live Prometheus has seen",
    (VectorSelector,),
    on_node,
)
