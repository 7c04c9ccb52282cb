"""promql/histogram: ``histogram_quantile`` over bucket rates that keep ``le``.

Only the selectors that supply the values are judged: in
``rate(x_bucket[5m]) * on (instance) group_left () up`` the ``up`` side only filters. Classic
buckets are ``_bucket`` series, or recorded series whose base metrics are; native histograms
(an exporter's histogram family by its plain name, or recorded from one) have no ``le``.
A recorded series' labels follow its recording expression.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import Enum

from acgs_promql.checks.base import Check, Problem, Subject, rate_window, sourced
from acgs_promql.findings import Severity
from acgs_promql.index import RECORDED, MetricIndex
from acgs_promql.labels import output_labels
from acgs_promql.tree import AggregateExpr, BinaryExpr, Call, NumberLiteral, VectorSelector
from acgs_promql.walker import Visit


class Buckets(Enum):
    CLASSIC = "classic"  # _bucket series, with an le label
    NATIVE = "native"  # native histogram samples
    NOT = "not"  # surely not a histogram (a gauge, _sum, _count)
    UNKNOWN = "unknown"


def buckets(index: MetricIndex, name: str) -> Buckets:
    """What kind of histogram data the series ``name`` holds."""
    if "_bucket" in name:
        return Buckets.CLASSIC
    info = index.typed(name)
    if info is None:
        return Buckets.UNKNOWN
    if info.source == RECORDED:
        bases = index.base_metrics(name)
        kinds = {buckets(index, base) for base in bases if not index.is_recorded(base)}
        for kind in (Buckets.CLASSIC, Buckets.NATIVE):
            if kind in kinds:
                return kind
        return Buckets.UNKNOWN
    return Buckets.NATIVE if info.native_histogram else Buckets.NOT


def _raw_buckets(index: MetricIndex, name: str) -> bool:
    """Scraped ``_bucket`` series (recording rules, ``:`` names, hold rates already)."""
    return "_bucket" in name and ":" not in name and not index.is_recorded(name)


def _function_below(selector: Visit, call: Visit) -> str | None:
    """The innermost function applied to the selector inside ``call``'s arguments."""
    for ancestor in selector.ancestors():
        if ancestor is call:
            return None  # the selector's function is the call itself
        if isinstance(ancestor.node, Call | AggregateExpr | BinaryExpr):
            break
    return selector.function


def _value_selectors(
    visit: Visit, call: Call, subject: Subject
) -> list[tuple[Visit, str, Buckets]]:
    """The named selectors under the bucket argument whose values reach the quantile, with
    their names and what kind of histogram data they hold."""
    found = []
    for inner in subject.walk.subtree(visit, call.args[1]):
        selector = inner.node
        if not isinstance(selector, VectorSelector) or selector.name is None:
            continue
        if inner.supplies_values_to(visit):
            found.append((inner, selector.name, buckets(subject.index, selector.name)))
    return found


def _judge(
    call: Visit, selectors: list[tuple[Visit, str, Buckets]], subject: Subject
) -> Iterator[Problem]:
    """Raw buckets, and series that are not buckets (unless classic buckets are there too)."""
    index = subject.index
    classic = any(kind is Buckets.CLASSIC for _, _, kind in selectors)
    for selector, name, kind in selectors:
        raw = _function_below(selector, call) is None
        info = index.typed(name)
        if kind is Buckets.CLASSIC and raw and _raw_buckets(index, name):
            problem = Problem(
                f"histogram_quantile over raw {name}: buckets count since the process "
                f"started, so the quantile is of all time, not of now; use "
                f"rate({name}[{rate_window(subject.role)}])",
                Severity.WARNING,
                call.node.pos,
            )
            yield sourced(problem, info)
        elif kind is Buckets.NOT and not classic:
            hint = ""
            if info and info.family and index.get(f"{info.family}_bucket"):
                hint = f"; use {info.family}_bucket"
            problem = Problem(
                f"histogram_quantile over {name}, which is not a _bucket series{hint}",
                position=call.node.pos,
            )
            yield sourced(problem, info)


def on_node(visit: Visit, subject: Subject) -> Iterator[Problem]:
    call = visit.node
    if not isinstance(call, Call) or call.func != "histogram_quantile":
        return
    phi, bucket_expr = call.args
    if isinstance(phi, NumberLiteral) and not 0 <= phi.value <= 1:
        yield Problem(f"quantile {phi.value:g} is outside 0..1", position=call.pos)
    selectors = _value_selectors(visit, call, subject)
    yield from _judge(visit, selectors, subject)
    classic = any(kind is Buckets.CLASSIC for _, _, kind in selectors)
    if classic and output_labels(bucket_expr, subject.index.selector_labels).has("le") is False:
        yield Problem(
            "histogram_quantile needs the 'le' label, but the expression aggregates it away: "
            f"keep it, e.g. sum by (le, service) (rate(x_bucket[{rate_window(subject.role)}]))",
            position=call.pos,
        )


CHECK = Check(
    "promql/histogram",
    "histogram_quantile over _bucket rates that keep le",
    (Call,),
    on_node,
)
