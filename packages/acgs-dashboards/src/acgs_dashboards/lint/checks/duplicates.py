"""``dashboard/duplicate-uid``, ``dashboard/duplicate-title``, ``panel/duplicate``.

Two files with one uid: provisioning keeps one and drops the other, silently. Two
dashboards with one title in a folder: Grafana refuses the second. Two panels with one id
confuse links and panel-level permalinks; two panels with one title confuse readers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence

from acgs_dashboards.lint.base import Check, Context, Issue
from acgs_dashboards.model import Dashboard
from acgs_promql.findings import Severity


def duplicate_uids(
    dashboards: Sequence[Dashboard], ctx: Context
) -> Iterator[tuple[Dashboard, Issue]]:
    first: dict[str, Dashboard] = {}
    for dashboard in dashboards:
        uid = dashboard.uid
        if uid is None:
            continue
        if uid in first:
            yield (
                dashboard,
                Issue(
                    Severity.ERROR,
                    f"uid {uid!r} is also used by {first[uid].path}; uids must be unique",
                    line=dashboard.line,
                ),
            )
        else:
            first[uid] = dashboard


def duplicate_titles(
    dashboards: Sequence[Dashboard], ctx: Context
) -> Iterator[tuple[Dashboard, Issue]]:
    first: dict[str, Dashboard] = {}
    for dashboard in dashboards:
        title = dashboard.title.strip().lower()
        if not title:
            continue
        if title in first:
            yield (
                dashboard,
                Issue(
                    Severity.WARNING,
                    f"title {dashboard.title!r} is also used by {first[title].path}; Grafana "
                    "refuses two dashboards with one title in the same folder",
                ),
            )
        else:
            first[title] = dashboard


def duplicate_panels(dashboard: Dashboard, ctx: Context) -> Iterator[Issue]:
    ids = Counter(p.id for p in dashboard.panels + dashboard.rows if isinstance(p.id, int))
    seen_ids: set[int] = set()
    for panel in dashboard.panels + dashboard.rows:
        if isinstance(panel.id, int) and ids[panel.id] > 1 and panel.id not in seen_ids:
            seen_ids.add(panel.id)
            yield Issue(
                Severity.WARNING,
                f"panel id {panel.id} is used by {ids[panel.id]} panels; give each its own",
                panel=panel,
            )
    # Repeated panels share a title on purpose ("Latency" in every $service row).
    titles = Counter((p.row, p.title) for p in dashboard.panels if p.title and not p.repeat)
    seen_titles: set[tuple[str | None, str]] = set()
    for panel in dashboard.panels:
        key = (panel.row, panel.title)
        if panel.title and not panel.repeat and titles[key] > 1 and key not in seen_titles:
            seen_titles.add(key)
            where = f" in row {panel.row!r}" if panel.row else ""
            yield Issue(
                Severity.WARNING,
                f"{titles[key]} panels are titled {panel.title!r}{where}; readers cannot "
                "tell them apart",
                panel=panel,
            )


UID = Check("dashboard/duplicate-uid", "no two dashboards share a uid", across=duplicate_uids)
TITLE = Check(
    "dashboard/duplicate-title", "no two dashboards share a title", across=duplicate_titles
)
PANELS = Check(
    "panel/duplicate", "panel ids and titles unique in a dashboard", per_dashboard=duplicate_panels
)
