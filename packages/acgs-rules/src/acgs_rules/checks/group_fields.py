"""promql/compat, rule-file part: group fields the oldest supported Prometheus
(``min_prometheus_version``) rejects. The expression part is :mod:`acgs_promql.checks.compat`;
both report under one name, with one doc page."""

from __future__ import annotations

from collections.abc import Iterator

from acgs_promql.checks.compat import CHECK as EXPRESSION_PART
from acgs_promql.findings import Finding
from acgs_promql.language import version
from acgs_rules.checks.base import Check
from acgs_rules.context import LintContext

GROUP_FIELDS_SINCE = {"query_offset": "2.53", "labels": "3.0"}


def run(ctx: LintContext) -> Iterator[Finding]:
    oldest = ctx.settings.min_prometheus_version
    for rule_file in ctx.loaded.rule_files:
        for group in rule_file.groups:
            for key, line in group.fields.items():
                since = GROUP_FIELDS_SINCE.get(key)
                if since and version(since) > version(oldest):
                    yield ctx.file_finding(
                        rule_file.path,
                        line,
                        CHECK.name,
                        f"group field {key!r} needs Prometheus {since}; {oldest} rejects the file",
                    )


CHECK = Check(EXPRESSION_PART.name, "group fields exist on Prometheus 2.42", run, "acgs-promql")
