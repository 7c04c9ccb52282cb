"""alert/backtest: an alert that would have paged too often, or flapped, over the last hours.

Only with ``--prometheus`` (see :mod:`acgs_promql.live.backtest` for how an alert is played
back). A warning when the alert would have fired more than ``--backtest-max-fires`` times
in the window, or fired again soon after resolving (a flap); a backtest query that failed
is a warning too. The table of every alert is printed with the text output.
"""

from __future__ import annotations

from collections.abc import Iterator

from acgs_promql.durations import format_duration
from acgs_promql.findings import Finding, Severity
from acgs_rules.checks.base import Check
from acgs_rules.context import LintContext


def run(ctx: LintContext) -> Iterator[Finding]:
    for rule in ctx.alerts():
        result = ctx.backtests.get((rule.path, rule.line))
        if result is None:
            continue
        if result.error is not None:
            message = f"backtest query failed: {result.error}"
        elif result.flaps or result.fires > ctx.backtest_max_fires:
            message = (
                f"over the last {format_duration(round(result.window_s))} it would have fired "
                f"{result.fires} time(s) on {result.series} series "
                f"({result.flaps} flap(s): fired again soon after resolving), firing "
                f"{format_duration(round(result.firing_s)) if result.firing_s else '0s'} in all: "
                f"raise the threshold or 'for', or aggregate (more than "
                f"{ctx.backtest_max_fires} fires or any flap is alert fatigue)"
            )
        else:
            continue
        yield ctx.finding(rule, CHECK.name, message, Severity.WARNING)


CHECK = Check("alert/backtest", "alerts that would have fired too often or flapped", run)
