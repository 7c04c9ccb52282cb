"""alert/detection-latency: the worst time from a problem to a notification, per alert:
scrape interval (or, for a recorded metric, its sources' delay plus the recording group's
interval) + the alert group's evaluation interval + ``for`` + Alertmanager ``group_wait`` of
the route it takes, against the target for its severity.

The intervals come from ``--prometheus-config``, the live Prometheus' running configuration
(``--prometheus``) or the settings, and ``group_wait`` from ``--alertmanager-config``; a part
taken from the ACGS defaults because none was given is named in the finding."""

from __future__ import annotations

from collections.abc import Iterator

from acgs_promql.durations import format_duration
from acgs_promql.findings import Finding, Severity
from acgs_rules.checks.base import Check
from acgs_rules.checks.routing import alert_labels
from acgs_rules.context import LintContext
from acgs_rules.model import Rule


def latency(ctx: LintContext, rule: Rule) -> dict[str, float]:
    analysis = ctx.analysis(rule)
    uses = analysis.selectors if analysis is not None else []
    severity = rule.labels.get("severity")
    if ctx.alertmanager is not None:
        ends = ctx.alertmanager.destinations(alert_labels(ctx, rule))
        wait = max(route.group_wait for route, _ in ends)
    else:
        wait = ctx.settings.group_wait_for(severity)
    return {
        "scrape": max((ctx.selector_delay(u.selector, rule) for u in uses), default=0.0),
        "evaluation": ctx.group_interval(rule),
        "for": rule.for_ or 0.0,
        "group_wait": wait,
    }


def run(ctx: LintContext) -> Iterator[Finding]:
    for rule in ctx.alerts():
        target = ctx.settings.detection_targets.get(rule.labels.get("severity", ""))
        if target is None:
            continue
        parts = latency(ctx, rule)
        total = sum(parts.values())
        if total <= target:
            continue
        shown = " + ".join(f"{k} {format_duration(v)}" for k, v in parts.items())
        yield ctx.finding(
            rule,
            CHECK.name,
            f"worst-case detection {format_duration(total)} ({shown}) exceeds the "
            f"{format_duration(target)} target for severity {rule.labels['severity']!r}"
            f"{_defaults_said(ctx)}",
            Severity.WARNING,
        )


def _defaults_said(ctx: LintContext) -> str:
    """Which parts are defaults, because no real configuration was given for them."""
    defaults = []
    if not ctx.intervals_origin:
        defaults.append("scrape/evaluation intervals (give --prometheus-config or --prometheus)")
    if ctx.alertmanager is None:
        defaults.append("group_wait (give --alertmanager-config)")
    return f"; ACGS defaults used for {' and '.join(defaults)}" if defaults else ""


CHECK = Check("alert/detection-latency", "worst-case detection time within the target", run)
