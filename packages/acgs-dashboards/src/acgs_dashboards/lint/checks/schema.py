"""``dashboard/schema``: fields have their JSON types; a uid and a current schemaVersion.

A field of the wrong type (``"time": "now-6h"``, ``"fieldConfig": {"defaults": []}``) is an
error naming the field and its line; the other checks read it as absent.

Without a uid, Grafana makes one up on every import, so links and provisioning break.
An old schemaVersion is migrated by Grafana on load; what is stored stays old and drifts.
"""

from __future__ import annotations

from collections.abc import Iterator

from acgs_dashboards.lint.base import Check, Context, Issue
from acgs_dashboards.model import Dashboard
from acgs_promql.findings import Severity

NAME = "dashboard/schema"
# Grafana 9.4 wrote 37; older dashboards still load but are migrated on every load.
OLDEST_CURRENT = 36


def check(dashboard: Dashboard, ctx: Context) -> Iterator[Issue]:
    for problem in dashboard.problems:
        yield Issue(Severity.ERROR, problem.message, line=problem.line)
    if dashboard.uid is None:
        yield Issue(
            Severity.WARNING,
            "the dashboard has no uid: set a stable one so links and provisioning survive",
        )
    version = dashboard.raw.get("schemaVersion")
    if not isinstance(version, int):
        yield Issue(Severity.WARNING, "no schemaVersion: Grafana will guess and migrate")
    elif version < OLDEST_CURRENT:
        yield Issue(
            Severity.WARNING,
            f"schemaVersion {version} is old (current: 41); Grafana migrates it on every "
            "load: open and save it in a current Grafana, or rebuild it as code",
        )
    if not dashboard.title:
        yield Issue(Severity.ERROR, "the dashboard has no title; Grafana refuses to save it")


CHECK = Check(
    NAME,
    "fields of the right JSON type; uid, current schemaVersion, title present",
    per_dashboard=check,
)
