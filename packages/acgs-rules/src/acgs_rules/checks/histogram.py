"""promql/histogram: ``histogram_quantile`` over ``_bucket`` series that keep ``le``, with a
quantile between 0 and 1."""

from __future__ import annotations

from collections.abc import Iterator

from acgs_rules.checks.base import Check
from acgs_rules.context import LintContext
from acgs_rules.model import Finding, Severity
from acgs_rules.promql import Call, NumberLiteral, analyze, output_labels, walk


def _is_bucket_source(ctx: LintContext, name: str) -> bool | None:
    """True if the series are histogram buckets, False if surely not, None if unknown."""
    if "_bucket" in name:
        return True
    info = ctx.index.get(name)
    if info is None:
        return None
    if info.source == "recording rule":
        bases = ctx.base_metrics(name)
        return True if any("_bucket" in b for b in bases) else None
    # A family typed histogram outside the catalog may be a native histogram.
    return info.type == "histogram" and info.spec is None


def run(ctx: LintContext) -> Iterator[Finding]:
    for rule in ctx.rules():
        tree = ctx.tree(rule)
        if tree is None:
            continue
        for node in walk(tree):
            if not isinstance(node, Call) or node.func != "histogram_quantile":
                continue
            line = ctx.expr_line(rule, node.pos)
            phi, buckets = node.args
            if isinstance(phi, NumberLiteral) and not 0 <= phi.value <= 1:
                yield ctx.finding(
                    rule, CHECK.name, f"quantile {phi.value} is outside 0..1", line=line
                )
            for use in analyze(buckets).selectors:
                if use.name is None:
                    continue
                source = _is_bucket_source(ctx, use.name)
                if source is False:
                    hint = ""
                    info = ctx.index.get(use.name)
                    if info and info.family and ctx.index.get(f"{info.family}_bucket"):
                        hint = f"; use {info.family}_bucket"
                    yield ctx.finding(
                        rule,
                        CHECK.name,
                        f"histogram_quantile over {use.name}, which is not a _bucket series{hint}",
                        line=line,
                    )
                elif (
                    source
                    and use.function is None
                    and "_bucket" in use.name
                    and ctx.index.is_counter(use.name)
                ):
                    yield ctx.finding(
                        rule,
                        CHECK.name,
                        f"histogram_quantile over raw {use.name}: buckets count since the "
                        f"process started; use rate({use.name}[...])",
                        Severity.WARNING,
                        line=line,
                    )
            if output_labels(buckets, ctx.selector_labels).has("le") is False:
                yield ctx.finding(
                    rule,
                    CHECK.name,
                    "histogram_quantile needs the 'le' label, but the expression aggregates it "
                    "away: keep it, e.g. sum by (le, ...) (rate(x_bucket[5m]))",
                    line=line,
                )


CHECK = Check("promql/histogram", "histogram_quantile over _bucket series that keep le", run)
