"""promql/unknown-label: labels in matchers, ``by`` and ``without`` exist on the metrics
whose labels are known (the catalog's, a live Prometheus' series, the label names service
code declares), and equality matchers use a value the catalog allows. Names and values from
unknowable dashboard variables are skipped.

Service code names a metric's own labels only: a scrape config may add more (relabeling,
service discovery), so a label missing there is a warning that says to list it in
``target_labels``; the catalog and a live Prometheus know every label, so there it is an
error."""

from __future__ import annotations

from collections.abc import Iterator

from acgs_promql.checks.base import Check, Problem, Subject, sourced
from acgs_promql.findings import Severity
from acgs_promql.index import MetricInfo
from acgs_promql.language import LABEL_ADDERS
from acgs_promql.sources.base import Source
from acgs_promql.tree import AggregateExpr, BinaryExpr, Call, VectorSelector
from acgs_promql.walker import Visit


def _labels(subject: Subject, name: str | None) -> frozenset[str] | None:
    """The labels a metric's series carry, target labels included (None: not known)."""
    info = subject.index.get(name) if name is not None else None
    if info is None or info.labels is None:
        return None
    return info.labels | subject.options.target_labels


def _severity(info: MetricInfo) -> Severity:
    """Error where the source knows every label; warning where relabeling may add some."""
    return Severity.ERROR if info.source in (Source.CATALOG, Source.LIVE) else Severity.WARNING


def _relabel_hint(info: MetricInfo) -> str:
    if info.source in (Source.CATALOG, Source.LIVE):
        return ""
    return "; if your scrape config adds it, list it in target_labels"


def _matchers(selector: VectorSelector, subject: Subject) -> Iterator[Problem]:
    allowed = _labels(subject, selector.name)
    info = subject.index.get(selector.name or "")
    if allowed is None or info is None:
        return
    for matcher in selector.label_matchers():
        from_variable = subject.options.from_variable
        if from_variable(matcher.name) or from_variable(matcher.value):
            continue
        if matcher.name not in allowed:
            yield sourced(
                Problem(
                    f"{selector.name} has no label {matcher.name!r} (labels: "
                    f"{', '.join(sorted(allowed))}), so {matcher} never matches as meant"
                    f"{_relabel_hint(info)}",
                    _severity(info),
                    selector.pos,
                ),
                info,
            )
            continue
        spec = info.spec
        if spec is None or matcher.name not in spec.label_names or matcher.op not in ("=", "=~"):
            continue
        values = spec.label(matcher.name).values
        if values is not None and not any(matcher.matches(v) for v in values):
            yield Problem(
                f"{selector.name}{{{matcher.name}{matcher.op}{matcher.value!r}}} matches no "
                f"allowed value ({', '.join(values)})",
                position=selector.pos,
            )


def _changes_labels(visit: Visit, subject: Subject, node: AggregateExpr) -> bool:
    """Label-changing functions, ``group_left/right`` labels or ``count_values`` under the
    aggregation: its input's labels are no longer the metrics' own."""
    for inner in subject.walk.subtree(visit, node.expr):
        expr = inner.node
        if isinstance(expr, Call) and expr.func in LABEL_ADDERS:
            return True
        if isinstance(expr, BinaryExpr) and expr.matching and expr.matching.include:
            return True
        if isinstance(expr, AggregateExpr) and expr.op == "count_values":
            return True
    return False


def _grouping(visit: Visit, node: AggregateExpr, subject: Subject) -> Iterator[Problem]:
    """A ``by``/``without`` label none of the aggregated metrics has."""
    if not node.grouping or _changes_labels(visit, subject, node):
        return
    names = [
        inner.node.name
        for inner in subject.walk.subtree(visit, node.expr)
        if isinstance(inner.node, VectorSelector)
    ]
    known = [_labels(subject, name) for name in names]
    if not names or any(labels is None for labels in known):
        return
    union = frozenset().union(*(labels for labels in known if labels is not None))
    infos = [info for name in names if (info := subject.index.get(name or "")) is not None]
    # The least certain source decides: a code-declared label set may miss relabeled ones.
    weakest = max(infos, key=lambda i: _severity(i) is Severity.WARNING)
    clause = "without" if node.without else "by"
    for label in node.grouping:
        if label not in union and not subject.options.from_variable(label):
            read = ", ".join(sorted(set(map(str, names))))
            problem = Problem(
                f"{node.op} {clause} ({label}): none of {read} has a label {label!r} "
                f"(labels: {', '.join(sorted(union))}){_relabel_hint(weakest)}",
                _severity(weakest),
                node.pos,
            )
            yield sourced(problem, weakest)


def on_node(visit: Visit, subject: Subject) -> Iterator[Problem]:
    if isinstance(visit.node, VectorSelector):
        yield from _matchers(visit.node, subject)
    elif isinstance(visit.node, AggregateExpr):
        yield from _grouping(visit, visit.node, subject)


CHECK = Check(
    "promql/unknown-label",
    "labels used on metrics whose labels are known exist",
    (VectorSelector, AggregateExpr),
    on_node,
)
