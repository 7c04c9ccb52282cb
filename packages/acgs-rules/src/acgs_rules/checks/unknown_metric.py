"""promql/unknown-metric: every metric name must be known.

Known: the ACGS catalog (with _bucket/_sum/_count), names made by a recording rule in the
linted set, the packaged lists of node_exporter, Prometheus, Alertmanager, haproxy, redis and
postgres exporters, and the ``extra_metrics`` patterns of the settings.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator

from acgs_rules.checks.base import Check
from acgs_rules.context import LintContext
from acgs_rules.model import Finding, Severity
from acgs_rules.promql import analyze

# Exporters whose metric set depends on their version and enabled collectors: a name with
# their prefix that is missing from the packaged list is probably real, so only a warning.
EXPORTER_PREFIXES = {
    "node_": "node_exporter",
    "prometheus_": "Prometheus",
    "alertmanager_": "Alertmanager",
    "haproxy_": "the haproxy exporter",
    "redis_": "the redis exporter",
    "pg_": "the postgres exporter",
}


def run(ctx: LintContext) -> Iterator[Finding]:
    patterns = [re.compile(p) for p in ctx.settings.extra_metrics]
    for rule in ctx.rules():
        tree = ctx.tree(rule)
        if tree is None:
            continue
        reported: set[str] = set()
        for use in analyze(tree).selectors:
            name = use.name
            if name is None or name in reported or ctx.index.get(name) is not None:
                continue
            if any(p.fullmatch(name) for p in patterns):
                continue
            reported.add(name)
            close = difflib.get_close_matches(name, ctx.index.infos.keys(), n=1, cutoff=0.85)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            exporter = next(
                (e for prefix, e in EXPORTER_PREFIXES.items() if name.startswith(prefix)), None
            )
            if exporter is not None:
                yield ctx.finding(
                    rule,
                    CHECK.name,
                    f"metric {name!r} is not in the known metric list of {exporter}{hint} "
                    f"(it may come from a version or collector the list does not cover)",
                    Severity.WARNING,
                    line=ctx.expr_line(rule, use.pos),
                )
                continue
            yield ctx.finding(
                rule,
                CHECK.name,
                f"unknown metric {name!r}: not in the ACGS catalog, not recorded by any rule, "
                f"not a known exporter metric{hint}",
                line=ctx.expr_line(rule, use.pos),
            )


CHECK = Check("promql/unknown-metric", "every metric the expression reads exists", run)
