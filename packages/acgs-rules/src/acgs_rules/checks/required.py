"""alert/required: every alert has the required labels and annotations (non-empty), and its
severity is one of the allowed values."""

from __future__ import annotations

from collections.abc import Iterator

from acgs_promql.findings import Finding, Severity
from acgs_rules.checks.base import Check
from acgs_rules.context import LintContext


def run(ctx: LintContext) -> Iterator[Finding]:
    settings = ctx.settings
    for rule in ctx.alerts():
        for label in settings.required_labels:
            if not rule.labels.get(label, "").strip():
                yield ctx.finding(rule, CHECK.name, f"alert has no {label!r} label")
        for name in settings.required_annotations:
            if not rule.annotations.get(name, "").strip():
                yield ctx.finding(rule, CHECK.name, f"alert has no {name!r} annotation")
        severity = rule.labels.get("severity")
        if severity is None or not settings.severities:
            continue
        line = rule.line_of("labels")
        if "{{" in severity:
            yield ctx.finding(
                rule,
                CHECK.name,
                f"severity {severity!r} is a template: the linter cannot check its value",
                Severity.WARNING,
                line=line,
            )
        elif severity not in settings.severities:
            yield ctx.finding(
                rule,
                CHECK.name,
                f"severity {severity!r} is not one of {', '.join(settings.severities)}",
                line=line,
            )


CHECK = Check("alert/required", "required labels and annotations, allowed severities", run)
