"""alert/routing: with an Alertmanager config, every alert must reach a receiver that notifies
someone; routes and inhibit rules that can match none of the alerts are reported too.

Labels an alert's expression carries (without a fixed value) count as "may match", so a
route on them is possible, never certain.
"""

from __future__ import annotations

from collections.abc import Iterator

from acgs_promql.findings import Finding, Severity
from acgs_rules.alertmanager import UNKNOWN, AMMatcher, LabelLookup
from acgs_rules.checks.base import Check
from acgs_rules.context import LintContext
from acgs_rules.model import Rule


def alert_labels(ctx: LintContext, rule: Rule) -> LabelLookup:
    """How the alert's labels look to a route: fixed value, UNKNOWN, or None (absent)."""
    result = ctx.output_labels(rule)

    def lookup(name: str) -> str | object | None:
        if name == "alertname":
            return rule.name
        if name in rule.labels:
            value = rule.labels[name]
            return UNKNOWN if "{{" in value else value
        if result is None or result.has(name) is not False:
            return UNKNOWN
        return None

    return lookup


def _may_match(matchers: list[AMMatcher], lookup: LabelLookup) -> bool:
    return all(m.evaluate(lookup) is not False for m in matchers)


def run(ctx: LintContext) -> Iterator[Finding]:
    config = ctx.alertmanager
    if config is None:
        return
    lookups = [(rule, alert_labels(ctx, rule)) for rule in ctx.alerts()]
    for rule, lookup in lookups:
        ends = config.destinations(lookup)
        if all(not config.receivers.get(route.receiver, False) for route, _ in ends):
            names = ", ".join(sorted({route.receiver for route, _ in ends}))
            yield ctx.finding(
                rule,
                CHECK.name,
                f"alert reaches no one: every route it can take in {config.path} ends at a "
                f"receiver with no notification config ({names})",
            )
    if not lookups:
        return
    path = str(config.path)
    for route in config.root.walk():
        if route is config.root:
            continue
        if not any(route.match(lookup) is not False for _, lookup in lookups):
            shown = ", ".join(str(m) for m in route.matchers)
            yield ctx.file_finding(
                path,
                route.line,
                CHECK.name,
                f"{route.path} ({shown}) matches none of the linted alerts",
                Severity.WARNING,
            )
    for inhibit in config.inhibit_rules:
        for side, matchers in (("source", inhibit.source), ("target", inhibit.target)):
            if not any(_may_match(matchers, lookup) for _, lookup in lookups):
                shown = ", ".join(str(m) for m in matchers)
                yield ctx.file_finding(
                    path,
                    inhibit.line,
                    CHECK.name,
                    f"inhibit_rules[{inhibit.index}] {side} ({shown}) matches none of the "
                    f"linted alerts",
                    Severity.WARNING,
                )


CHECK = Check("alert/routing", "every alert reaches a receiver that notifies", run)
