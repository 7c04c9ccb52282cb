"""promql/range-window: a range holds at least two samples of the series it reads.

A range shorter than twice the interval between samples can hold a single sample, so
``rate()`` and friends return nothing now and then. The caller says how far apart the
samples of a selector's series are (``CheckOptions.sample_interval``: the scrape interval,
or a recording group's evaluation interval); without it the check says nothing.
"""

from __future__ import annotations

from collections.abc import Iterator

from acgs_promql.checks.base import Check, Problem, Subject
from acgs_promql.durations import format_duration
from acgs_promql.findings import Severity
from acgs_promql.language import TWO_SAMPLE_FUNCTIONS
from acgs_promql.tree import VectorSelector
from acgs_promql.walker import Visit


def on_node(visit: Visit, subject: Subject) -> Iterator[Problem]:
    selector = visit.node
    spacing = subject.options.sample_interval
    if not isinstance(selector, VectorSelector) or spacing is None or visit.window is None:
        return
    if selector.name is None:
        return
    interval = spacing(selector)
    if visit.window >= 2 * interval:
        return
    origin = subject.options.interval_origin
    said = origin(selector) if origin is not None else ""
    severity = Severity.ERROR if visit.function in TWO_SAMPLE_FUNCTIONS else Severity.WARNING
    yield Problem(
        f"range [{format_duration(visit.window)}] on {selector.name} is shorter than twice its "
        f"scrape/evaluation interval ({format_duration(interval)}{f', {said}' if said else ''}): "
        f"use at least [{format_duration(2 * interval)}]",
        severity,
        selector.pos,
    )


CHECK = Check(
    "promql/range-window", "range windows hold at least two samples", (VectorSelector,), on_node
)
