"""promql/compat: rules must run on every Prometheus from ``min_prometheus_version`` (2.42) to
3.x: no functions or group fields the oldest lacks, none that 3.x removed."""

from __future__ import annotations

from collections.abc import Iterator

from acgs_rules.checks.base import Check
from acgs_rules.context import LintContext
from acgs_rules.model import Finding
from acgs_rules.promql import AGGREGATORS_SINCE, FUNCTIONS, AggregateExpr, Call, walk

# Gone (or behind a feature flag) in Prometheus 3.
REMOVED_IN_3 = {"holt_winters": "double_exponential_smoothing (needs a feature flag)"}
GROUP_FIELDS_SINCE = {"query_offset": "2.53", "labels": "3.0"}


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split(".") if p.isdigit())


def run(ctx: LintContext) -> Iterator[Finding]:
    oldest = _version(ctx.settings.min_prometheus_version)
    for rule_file in ctx.loaded.rule_files:
        for group in rule_file.groups:
            for key, line in group.fields.items():
                since = GROUP_FIELDS_SINCE.get(key)
                if since and _version(since) > oldest:
                    yield ctx.file_finding(
                        rule_file.path,
                        line,
                        CHECK.name,
                        f"group field {key!r} needs Prometheus {since}; "
                        f"{ctx.settings.min_prometheus_version} rejects the file",
                    )
    for rule in ctx.rules():
        tree = ctx.tree(rule)
        if tree is None:
            continue
        for node in walk(tree):
            name, since = None, None
            if isinstance(node, Call):
                name, since = node.func, FUNCTIONS[node.func].since
            elif isinstance(node, AggregateExpr):
                name, since = node.op, AGGREGATORS_SINCE.get(node.op)
            if name is None:
                continue
            line = ctx.expr_line(rule, node.pos)
            if since and _version(since) > oldest:
                yield ctx.finding(
                    rule,
                    CHECK.name,
                    f"{name} needs Prometheus {since}; the rules must also run on "
                    f"{ctx.settings.min_prometheus_version}",
                    line=line,
                )
            if name in REMOVED_IN_3:
                yield ctx.finding(
                    rule,
                    CHECK.name,
                    f"{name} is not available in Prometheus 3 (renamed to {REMOVED_IN_3[name]})",
                    line=line,
                )


CHECK = Check("promql/compat", "works on Prometheus 2.42 and 3.x", run)
