"""alert/for: without ``for`` one bad evaluation pages someone; a ``for`` shorter than the
severity's minimum flaps; a ``for`` shorter than the group's evaluation interval does nothing.
A watchdog that reads no metric (``vector(1)``) cannot flap and needs no ``for``."""

from __future__ import annotations

from collections.abc import Iterator

from acgs_promql.durations import format_duration
from acgs_promql.findings import Finding, Severity
from acgs_rules.checks.base import Check
from acgs_rules.context import LintContext


def run(ctx: LintContext) -> Iterator[Finding]:
    for rule in ctx.alerts():
        severity = rule.labels.get("severity", "")
        minimum = ctx.settings.min_for.get(severity, 0.0)
        interval = ctx.group_interval(rule)
        if rule.for_ is None:
            if rule.for_text is None and not ctx.always_fires(rule):
                yield ctx.finding(
                    rule,
                    CHECK.name,
                    "alert has no 'for': a single evaluation fires it; set for: "
                    f"{format_duration(max(minimum, interval))} or more",
                    Severity.WARNING,
                )
            continue
        line = rule.line_of("for")
        if rule.for_ < minimum:
            yield ctx.finding(
                rule,
                CHECK.name,
                f"for: {format_duration(rule.for_)} is shorter than the {format_duration(minimum)} "
                f"minimum for severity {severity!r}",
                Severity.WARNING,
                line=line,
            )
        elif 0 < rule.for_ < interval:
            yield ctx.finding(
                rule,
                CHECK.name,
                f"for: {format_duration(rule.for_)} is shorter than the group's evaluation "
                f"interval ({format_duration(interval)}), so it acts as one evaluation",
                Severity.WARNING,
                line=line,
            )


CHECK = Check("alert/for", "alerts wait long enough before firing", run)
