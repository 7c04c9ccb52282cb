"""promql/range-window: a range shorter than two sample intervals can hold a single sample,
so ``rate()`` and friends return nothing now and then.

The sample interval is the scrape interval for scraped series and the recording group's
evaluation interval for recorded ones (latency is the detection-latency check's business).
"""

from __future__ import annotations

from collections.abc import Iterator

from acgs_rules.checks.base import Check
from acgs_rules.context import LintContext
from acgs_rules.model import Finding, Severity
from acgs_rules.promql import analyze, format_duration

# These need two samples in the window to return anything.
TWO_SAMPLE_FUNCTIONS = {
    "rate",
    "irate",
    "increase",
    "delta",
    "idelta",
    "deriv",
    "changes",
    "resets",
    "predict_linear",
    "holt_winters",
}


def run(ctx: LintContext) -> Iterator[Finding]:
    for rule in ctx.rules():
        tree = ctx.tree(rule)
        if tree is None:
            continue
        for use in analyze(tree).selectors:
            if use.range_seconds is None or use.name is None:
                continue
            interval = ctx.sample_spacing(use)
            if use.range_seconds >= 2 * interval:
                continue
            severity = Severity.ERROR if use.function in TWO_SAMPLE_FUNCTIONS else Severity.WARNING
            yield ctx.finding(
                rule,
                CHECK.name,
                f"range [{format_duration(use.range_seconds)}] on {use.name} is shorter than "
                f"twice its scrape/evaluation interval ({format_duration(interval)}): use at "
                f"least [{format_duration(2 * interval)}]",
                severity,
                line=ctx.expr_line(rule, use.pos),
            )


CHECK = Check("promql/range-window", "range windows hold at least two samples", run)
