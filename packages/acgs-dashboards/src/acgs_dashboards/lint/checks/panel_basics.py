"""``panel/targets``, ``panel/title-description``, ``panel/unit``.

A data panel without queries shows "No data" forever; one without a title or description
leaves readers guessing; one without a unit shows 0.000153 where 153 µs was meant.
"""

from __future__ import annotations

from collections.abc import Iterator

from acgs_dashboards.lint.base import Check, Context, Issue
from acgs_dashboards.model import Dashboard, Panel
from acgs_promql.findings import Severity

# Panels that draw query results; text, news, dashboard lists and the like need none.
DATA_PANELS = frozenset(
    {
        "timeseries", "graph", "stat", "singlestat", "gauge", "bargauge", "table",
        "table-old", "heatmap", "piechart", "barchart", "histogram", "state-timeline",
        "status-history", "xychart", "trend", "candlestick", "geomap", "nodeGraph",
    }
)  # fmt: skip
# Panels whose values need a unit to be read (tables and heatmaps often mix units).
UNIT_PANELS = frozenset({"timeseries", "graph", "stat", "singlestat", "gauge", "bargauge"})


def panel_unit(panel: Panel) -> str | None:
    """The panel's unit; ``graph`` panels keep it on the left y axis, ``singlestat`` in format."""
    if panel.unit:
        return panel.unit
    if panel.type == "graph":
        axes = panel.raw.get("yaxes")
        first = axes[0] if isinstance(axes, list) and axes else None
        if isinstance(first, dict) and isinstance(first.get("format"), str):
            return str(first["format"])
    if panel.type == "singlestat" and isinstance(panel.raw.get("format"), str):
        return str(panel.raw["format"])
    return None


def targets(dashboard: Dashboard, ctx: Context) -> Iterator[Issue]:
    for panel in dashboard.panels:
        if panel.type not in DATA_PANELS or panel.library:
            continue
        if not panel.targets:
            yield Issue(Severity.ERROR, "a data panel without queries shows nothing", panel=panel)
        elif all(t.hidden for t in panel.targets):
            yield Issue(Severity.WARNING, "every query of this panel is hidden", panel=panel)
        for target in panel.targets:
            if target.expr is not None and not target.expr.strip() and not target.hidden:
                yield Issue(
                    Severity.WARNING, f"query {target.ref_id} is empty", panel=panel, target=target
                )


def title_description(dashboard: Dashboard, ctx: Context) -> Iterator[Issue]:
    for panel in dashboard.panels:
        if panel.type not in DATA_PANELS or panel.library:
            continue
        if not panel.title.strip():
            yield Issue(Severity.WARNING, "the panel has no title", panel=panel)
        if not str(panel.raw.get("description") or "").strip():
            yield Issue(
                Severity.WARNING,
                "the panel has no description: say what it shows and what good looks like",
                panel=panel,
            )


def units(dashboard: Dashboard, ctx: Context) -> Iterator[Issue]:
    for panel in dashboard.panels:
        if panel.type in UNIT_PANELS and not panel.library and panel_unit(panel) is None:
            yield Issue(
                Severity.WARNING,
                "the panel has no unit (fieldConfig.defaults.unit); set one, 'short' or "
                "'none' for plain numbers",
                panel=panel,
            )


TARGETS = Check("panel/targets", "data panels have queries", per_dashboard=targets)
TITLE_DESCRIPTION = Check(
    "panel/title-description",
    "panels have a title and a description",
    per_dashboard=title_description,
)
UNITS = Check("panel/unit", "panels have a unit", per_dashboard=units)
