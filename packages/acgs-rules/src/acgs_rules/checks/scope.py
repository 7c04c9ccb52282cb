"""group/scope: a rule in a shard group (the default scope) that needs the whole fleet.

With ``prometheus_shards > 1`` a shard's Prometheus sees only its own targets, so a rule
there that combines several targets answers for part of the fleet, and a metric recorded by
a global group (on vmalert, into VictoriaMetrics) does not exist there at all. Caught:

- an aggregation whose groups span instances (``sum by (service)``, ``count(...)``,
  ``topk(3, ...)``): its grouping does not keep ``instance``;
- ``absent()`` / ``absent_over_time()``: true on every shard that does not scrape the series;
- a metric recorded only by global groups.

The scope marker is described in :mod:`acgs_rules.scope`. The check runs when the settings
say ``sharded: true``, or (``sharded`` unset) when any linted group carries a scope marker:
rules written for one Prometheus are not held to it.
"""

from __future__ import annotations

from collections.abc import Iterator

from acgs_promql.findings import Finding
from acgs_promql.labels import output_labels
from acgs_rules.checks.base import Check
from acgs_rules.context import LintContext
from acgs_rules.model import Rule
from acgs_rules.scope import GLOBAL, SHARD

# The label that tells targets apart: hashmod shards on the address it is made from.
TARGET_LABEL = "instance"
MOVE = (
    "a shard sees only its own targets (prometheus_shards > 1): mark the group "
    "'# acgs: scope=global' to run it on vmalert against VictoriaMetrics"
)


def run(ctx: LintContext) -> Iterator[Finding]:
    sharded = ctx.settings.sharded
    if sharded is None:
        groups = (g for f in ctx.loaded.rule_files for g in f.groups)
        sharded = any(group.scope_line for group in groups)
    if not sharded:
        return
    for rule in ctx.rules():
        if rule.group.scope != SHARD:
            continue
        found = _fleet_wide(ctx, rule)
        if found is not None:
            pos, reason = found
            line = ctx.expr_line(rule, pos)
            yield ctx.finding(rule, CHECK.name, f"{reason}; {MOVE}", line=line)


def _fleet_wide(ctx: LintContext, rule: Rule) -> tuple[int, str] | None:
    """Where and why the rule needs targets of other shards (the first reason), or None."""
    analysis = ctx.analysis(rule)
    if analysis is None:
        return None
    for use in analysis.selectors:
        recorders = ctx.recording_rules(use.name) if use.name else []
        if recorders and all(r.group.scope == GLOBAL for r in recorders):
            return use.pos, (
                f"it reads {use.name}, recorded by global group {recorders[0].group.name!r}: "
                "that series exists only in VictoriaMetrics"
            )
    for call in analysis.functions:
        if call.name in ("absent", "absent_over_time"):
            return call.pos, f"{call.name}() is true on every shard that does not scrape the series"
    for aggregation in analysis.aggregations:
        node = aggregation.node
        inner = output_labels(node.expr, ctx.index.selector_labels)
        grouped = inner.drop(node.grouping) if node.without else inner.keep(node.grouping)
        if inner.has(TARGET_LABEL) is not False and grouped.has(TARGET_LABEL) is False:
            clause = "without" if node.without else "by"
            shown = f" {clause} ({', '.join(node.grouping)})" if node.grouping else ""
            return aggregation.pos, f"{node.op}{shown} aggregates over instances"
    return None


CHECK = Check("group/scope", "shard groups need no other shard's targets", run)
