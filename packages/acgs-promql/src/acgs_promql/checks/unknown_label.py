"""promql/unknown-label: labels in matchers, ``by`` and ``without`` exist on the metrics
whose labels are known (the catalog's), and equality matchers use a value the catalog
allows. Names and values from unknowable dashboard variables are skipped."""

from __future__ import annotations

from collections.abc import Iterator

from acgs_promql.checks.base import Check, Problem, Subject
from acgs_promql.language import LABEL_ADDERS
from acgs_promql.tree import AggregateExpr, BinaryExpr, Call, VectorSelector
from acgs_promql.walker import Visit


def _labels(subject: Subject, name: str | None) -> frozenset[str] | None:
    """The labels a metric's series carry, target labels included (None: not known)."""
    info = subject.index.get(name) if name is not None else None
    if info is None or info.labels is None:
        return None
    return info.labels | subject.options.target_labels


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
            yield Problem(
                f"{selector.name} has no label {matcher.name!r} (labels: "
                f"{', '.join(sorted(allowed))}), so {matcher} never matches as meant",
                position=selector.pos,
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
    clause = "without" if node.without else "by"
    for label in node.grouping:
        if label not in union and not subject.options.from_variable(label):
            yield Problem(
                f"{node.op} {clause} ({label}): none of {', '.join(sorted(set(map(str, names))))} "
                f"has a label {label!r} (labels: {', '.join(sorted(union))})",
                position=node.pos,
            )


def on_node(visit: Visit, subject: Subject) -> Iterator[Problem]:
    if isinstance(visit.node, VectorSelector):
        yield from _matchers(visit.node, subject)
    elif isinstance(visit.node, AggregateExpr):
        yield from _grouping(visit, visit.node, subject)


CHECK = Check(
    "promql/unknown-label",
    "labels used on catalog metrics exist",
    (VectorSelector, AggregateExpr),
    on_node,
)
