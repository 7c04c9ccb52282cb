"""alert/template: label and annotation templates must be valid, and ``$labels.x`` must name
a label the expression keeps (after ``sum by (...)`` most labels are gone)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from acgs_promql.findings import Finding
from acgs_rules.checks.base import Check
from acgs_rules.context import LintContext
from acgs_rules.templates import check_template, label_references

_ACTIONS = re.compile(r"{{(.*?)}}", re.S)


def _reads_value(text: str) -> bool:
    return any("$value" in action or ".Value" in action for action in _ACTIONS.findall(text))


def run(ctx: LintContext) -> Iterator[Finding]:
    for rule in ctx.alerts():
        kept = ctx.output_labels(rule)
        fields = [("labels", k, v) for k, v in rule.labels.items()]
        fields += [("annotations", k, v) for k, v in rule.annotations.items()]
        for section, key, text in fields:
            line = rule.line_of(section)
            for problem in check_template(text):
                yield ctx.finding(
                    rule, CHECK.name, f"template error in {section}.{key}: {problem}", line=line
                )
            if section == "labels" and _reads_value(text):
                yield ctx.finding(
                    rule,
                    CHECK.name,
                    f"labels.{key} uses $value: every new value makes a new alert (the old one "
                    f"resolves); put the value in an annotation",
                    line=line,
                )
            if kept is None:
                continue
            for label in sorted(label_references(text)):
                if kept.has(label) is False:
                    yield ctx.finding(
                        rule,
                        CHECK.name,
                        f"{section}.{key} uses $labels.{label}, but the expression's result "
                        f"has no {label!r} label (it is aggregated or matched away): it "
                        f"renders as '<no value>'",
                        line=line,
                    )


CHECK = Check("alert/template", "valid templates; $labels only for labels the result has", run)
