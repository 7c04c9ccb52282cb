"""promql/counter: counter functions on counters, gauge functions on gauges, and counters
not used raw.

Everywhere: ``rate``/``irate``/``increase``/``resets`` on a known non-counter (error),
``deriv``/``delta``/``idelta``/``predict_linear`` on a counter (warning), and a rate over a
subquery of a sum of counters (error). A native histogram (an exporter's histogram family
read by its plain name) is exempt: ``rate()`` is meant for it. By role: a raw counter
compared in an alert (error; warning inside a ratio), a raw counter shown in a panel
(warning). Counting aggregations, offsets (a hand-made increase), counters under a rate or
``histogram_quantile`` (through a subquery or an aggregation) and, in panels, ``_bucket``
series (promql/histogram's business) are fine.
"""

from __future__ import annotations

from collections.abc import Iterator

from acgs_promql.checks.base import Check, Problem, Subject, rate_window, sourced
from acgs_promql.expression import Role
from acgs_promql.findings import Severity
from acgs_promql.language import (
    COMPARISON_OPS,
    COUNTER_FUNCTIONS,
    COUNTING_AGGREGATORS,
    GAUGE_FUNCTIONS,
    TWO_SAMPLE_FUNCTIONS,
)
from acgs_promql.tree import AggregateExpr, BinaryExpr, Call, SubqueryExpr, VectorSelector
from acgs_promql.walker import Visit

# A counter under these (through a subquery or an aggregation) is not used raw: the rate of a
# sum below, and promql/histogram, speak about those.
_RATED = TWO_SAMPLE_FUNCTIONS | {"histogram_quantile"}


def _rated(visit: Visit) -> bool:
    return any(isinstance(a.node, Call) and a.node.func in _RATED for a in visit.ancestors())


def _has_offset(subject: Subject) -> bool:
    """``x_total - x_total offset 1h`` is a hand-made increase: no raw use then."""
    return any(
        isinstance(v.node, VectorSelector) and v.node.offset is not None
        for v in subject.walk.of_kind(VectorSelector)
    )


def _compared_side(visit: Visit) -> Visit | None:
    """The operand of the nearest comparison above ``visit`` that holds it (None: not
    compared, or counted on the way: ``count(x_total) > 5`` counts series)."""
    side = visit
    for ancestor in visit.ancestors():
        node = ancestor.node
        if isinstance(node, AggregateExpr) and node.op in COUNTING_AGGREGATORS:
            return None
        if isinstance(node, BinaryExpr) and node.op in COMPARISON_OPS:
            return side
        side = ancestor
    return None


def _raw_in_alert(visit: Visit, subject: Subject, name: str) -> Iterator[Problem]:
    side = _compared_side(visit)
    if side is None:
        return
    # A ratio of lifetime totals is odd but does not fire forever: warn only.
    ratio = any(
        isinstance(v.node, BinaryExpr) and v.node.op == "/"
        for v in (side, *subject.walk.below(side))
    )
    if ratio:
        message = (
            f"counter {name} is used raw in a ratio: it compares lifetime totals since the "
            f"process started; use rate({name}[...])"
        )
    else:
        message = (
            f"counter {name} is compared raw: it only goes up, so the alert keeps firing "
            f"after one event; compare rate({name}[...]) or increase({name}[...]) instead"
        )
    yield Problem(message, Severity.WARNING if ratio else Severity.ERROR, visit.node.pos)


def _raw(visit: Visit, subject: Subject, name: str) -> Iterator[Problem]:
    if _has_offset(subject):
        return
    if subject.role is Role.ALERT:
        yield from _raw_in_alert(visit, subject, name)
    elif subject.role is Role.PANEL:
        if COUNTING_AGGREGATORS & set(visit.aggregations) or name.endswith("_bucket"):
            return
        yield Problem(
            f"counter {name} is shown raw: it only climbs and resets on restart; show "
            f"rate({name}[{rate_window(subject.role)}]) or increase(...)",
            Severity.WARNING,
            visit.node.pos,
        )


def _selector(visit: Visit, selector: VectorSelector, subject: Subject) -> Iterator[Problem]:
    name = selector.name
    info = subject.index.typed(name) if name is not None else None
    if name is None or info is None or info.native_histogram:
        return
    function = visit.function
    is_counter = subject.index.is_counter(name)
    if function in COUNTER_FUNCTIONS and is_counter is False:
        yield sourced(
            Problem(
                f"{function}() on {name}, a {info.type}: {function} assumes a counter and "
                "treats every drop as a reset; use deriv() or delta() for gauges, or the gauge "
                "as it is",
                position=selector.pos,
            ),
            info,
        )
    elif function in GAUGE_FUNCTIONS and is_counter is True:
        yield sourced(
            Problem(
                f"{function}() on counter {name} ignores counter resets; use rate() or increase()",
                Severity.WARNING,
                selector.pos,
            ),
            info,
        )
    elif function is None and is_counter is True and not _rated(visit):
        yield from (sourced(problem, info) for problem in _raw(visit, subject, name))


def _rate_of_sum(visit: Visit, call: Call, subject: Subject) -> Iterator[Problem]:
    """``rate(sum(x_total)[5m:])``: a reset of one series looks like a drop of the sum."""
    if call.func not in COUNTER_FUNCTIONS or not isinstance(call.args[0], SubqueryExpr):
        return
    for inner in subject.walk.below(visit):
        node = inner.node
        if not isinstance(node, AggregateExpr) or node.op != "sum":
            continue
        for use in subject.walk.subtree(inner, node.expr):
            selector = use.node
            if not isinstance(selector, VectorSelector) or selector.name is None:
                continue
            if use.function is None and subject.index.is_counter(selector.name):
                problem = Problem(
                    f"{call.func}() over a sum of counters ({selector.name}): when one series "
                    f"resets the sum drops and {call.func} sees a huge reset; take the "
                    f"{call.func} first, then sum: sum({call.func}({selector.name}[...]))",
                    position=call.pos,
                )
                yield sourced(problem, subject.index.typed(selector.name))
                return


def on_node(visit: Visit, subject: Subject) -> Iterator[Problem]:
    if isinstance(visit.node, VectorSelector):
        yield from _selector(visit, visit.node, subject)
    elif isinstance(visit.node, Call):
        yield from _rate_of_sum(visit, visit.node, subject)


CHECK = Check(
    "promql/counter",
    "counter functions on counters only; counters not used raw",
    (VectorSelector, Call),
    on_node,
)
