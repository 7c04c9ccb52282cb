"""promql/unknown-label: labels in matchers, ``by`` and ``without`` must exist on catalog
metrics, and equality matchers must use a value the catalog allows."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from acgs_rules.checks.base import Check
from acgs_rules.context import LintContext
from acgs_rules.model import Finding, Rule
from acgs_rules.promql import AggregateExpr, BinaryExpr, Call, Expr, analyze, walk

# Functions and operators after which the label set is no longer the metric's own.
_LABEL_CHANGERS = {"label_replace", "label_join"}


def _labels_known(ctx: LintContext, name: str | None) -> frozenset[str] | None:
    if name is None:
        return None
    info = ctx.index.get(name)
    if info is None or info.labels is None:
        return None
    return info.labels | set(ctx.settings.target_labels)


def _matcher_findings(ctx: LintContext, rule: Rule, tree: Expr) -> Iterator[Finding]:
    for use in analyze(tree).selectors:
        allowed = _labels_known(ctx, use.name)
        if allowed is None:
            continue
        info = ctx.index.get(use.name or "")
        spec = info.spec if info else None
        for matcher in use.matchers:
            line = ctx.expr_line(rule, use.pos)
            if matcher.name not in allowed:
                yield ctx.finding(
                    rule,
                    CHECK.name,
                    f"{use.name} has no label {matcher.name!r} (labels: "
                    f"{', '.join(sorted(allowed))}), so {matcher} never matches as meant",
                    line=line,
                )
                continue
            if spec is None or matcher.name not in spec.label_names:
                continue
            label = spec.label(matcher.name)
            if label.values is None or matcher.op not in ("=", "=~"):
                continue
            if not any(matcher.matches(v) for v in label.values):
                yield ctx.finding(
                    rule,
                    CHECK.name,
                    f"{use.name}{{{matcher.name}{matcher.op}{matcher.value!r}}} matches no "
                    f"allowed value ({', '.join(label.values)})",
                    line=line,
                )


@dataclass(frozen=True)
class MissingGroupingLabel:
    """A ``by``/``without`` label that none of the aggregated metrics has."""

    node: AggregateExpr
    label: str
    metrics: frozenset[str]
    labels: frozenset[str]

    def message(self) -> str:
        clause = "without" if self.node.without else "by"
        return (
            f"{self.node.op} {clause} ({self.label}): none of {', '.join(sorted(self.metrics))} "
            f"has a label {self.label!r} (labels: {', '.join(sorted(self.labels))})"
        )


def missing_grouping_labels(
    tree: Expr, labels_of: Callable[[str | None], frozenset[str] | None]
) -> Iterator[MissingGroupingLabel]:
    """Grouping labels absent from every metric under the aggregation.

    ``labels_of`` gives a metric's labels, or None when they are unknown (then nothing is
    said). Aggregations over label-changing functions, ``group_left/right`` or
    ``count_values`` are skipped: their label set is no longer the metrics' own.
    """
    for node in walk(tree):
        if not isinstance(node, AggregateExpr) or not node.grouping:
            continue
        inner = list(walk(node.expr))
        if any(isinstance(n, Call) and n.func in _LABEL_CHANGERS for n in inner):
            continue
        if any(isinstance(n, BinaryExpr) and n.matching and n.matching.include for n in inner):
            continue
        if any(isinstance(n, AggregateExpr) and n.op == "count_values" for n in inner):
            continue
        names = [u.name for u in analyze(node.expr).selectors]
        known = [labels_of(n) for n in names]
        if not names or any(k is None for k in known):
            continue
        union = frozenset().union(*(k for k in known if k is not None))
        for label in node.grouping:
            if label not in union:
                metrics = frozenset(str(n) for n in names)
                yield MissingGroupingLabel(node, label, metrics, union)


def _grouping_findings(ctx: LintContext, rule: Rule, tree: Expr) -> Iterator[Finding]:
    for missing in missing_grouping_labels(tree, lambda name: _labels_known(ctx, name)):
        yield ctx.finding(
            rule, CHECK.name, missing.message(), line=ctx.expr_line(rule, missing.node.pos)
        )


def run(ctx: LintContext) -> Iterator[Finding]:
    for rule in ctx.rules():
        tree = ctx.tree(rule)
        if tree is not None:
            yield from _matcher_findings(ctx, rule, tree)
            yield from _grouping_findings(ctx, rule, tree)


CHECK = Check("promql/unknown-label", "labels used on catalog metrics exist", run)
