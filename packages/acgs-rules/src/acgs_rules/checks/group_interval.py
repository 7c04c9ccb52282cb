"""group/interval: a group evaluated less often than ``max_group_interval`` detects late and
makes ``for`` coarse."""

from __future__ import annotations

from collections.abc import Iterator

from acgs_promql.durations import format_duration
from acgs_promql.findings import Finding, Severity
from acgs_rules.checks.base import Check
from acgs_rules.context import LintContext


def run(ctx: LintContext) -> Iterator[Finding]:
    limit = ctx.settings.max_group_interval
    for rule_file in ctx.loaded.rule_files:
        for group in rule_file.groups:
            if group.interval is not None and group.interval > limit:
                yield ctx.file_finding(
                    group.path,
                    group.fields.get("interval", group.line),
                    CHECK.name,
                    f"group {group.name!r} is evaluated every {format_duration(group.interval)}, "
                    f"longer than the {format_duration(limit)} limit",
                    Severity.WARNING,
                )


CHECK = Check("group/interval", "groups are evaluated often enough", run)
