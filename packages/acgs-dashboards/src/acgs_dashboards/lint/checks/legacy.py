"""``panel/legacy-type``: panel types Grafana replaced.

``graph``, ``singlestat`` and ``table-old`` are AngularJS panels: Grafana 11 migrates them
on load, Grafana 12 has no Angular at all, and the stored JSON stays old.
"""

from __future__ import annotations

from collections.abc import Iterator

from acgs_dashboards.lint.base import Check, Context, Issue
from acgs_dashboards.model import Dashboard
from acgs_promql.findings import Severity

REPLACEMENTS = {
    "graph": "timeseries",
    "singlestat": "stat",
    "grafana-singlestat-panel": "stat",
    "table-old": "table",
    "grafana-piechart-panel": "piechart",
    "grafana-worldmap-panel": "geomap",
    "natel-discrete-panel": "state-timeline",
}


def check(dashboard: Dashboard, ctx: Context) -> Iterator[Issue]:
    for panel in dashboard.panels:
        replacement = REPLACEMENTS.get(panel.type)
        if replacement:
            yield Issue(
                Severity.WARNING,
                f"panel type {panel.type!r} is legacy (AngularJS); use {replacement!r}",
                panel=panel,
            )


CHECK = Check("panel/legacy-type", "no AngularJS-era panel types", per_dashboard=check)
