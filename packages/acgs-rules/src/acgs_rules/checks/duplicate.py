"""rules/duplicate: two alerts with the same name and labels, two recording rules writing the
same series, or two groups with the same name (in one file or across files)."""

from __future__ import annotations

from collections.abc import Iterator

from acgs_promql.findings import Finding
from acgs_rules.checks.base import Check
from acgs_rules.context import LintContext
from acgs_rules.model import Rule


def run(ctx: LintContext) -> Iterator[Finding]:
    seen: dict[tuple[str, str, tuple[tuple[str, str], ...]], Rule] = {}
    for rule in ctx.rules():
        key = (rule.kind, rule.name, tuple(sorted(rule.labels.items())))
        first = seen.setdefault(key, rule)
        if first is rule:
            continue
        what = "alert" if rule.is_alert else "recording rule"
        labels = ", ".join(f"{k}={v}" for k, v in key[2]) or "no labels"
        yield ctx.finding(
            rule,
            CHECK.name,
            f"duplicate {what} {rule.name!r} ({labels}): also at {first.path}:{first.line}",
        )
    groups: dict[str, tuple[str, int]] = {}
    for rule_file in ctx.loaded.rule_files:
        for group in rule_file.groups:
            if not group.name:
                continue
            if group.name in groups:
                path, line = groups[group.name]
                yield ctx.file_finding(
                    group.path,
                    group.line,
                    CHECK.name,
                    f"duplicate group name {group.name!r}: also at {path}:{line}",
                )
            else:
                groups[group.name] = (group.path, group.line)


CHECK = Check("rules/duplicate", "no duplicate alerts, recording rules or group names", run)
