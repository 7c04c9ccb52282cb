"""The load test's query mix: the real dashboards' panel queries, as Grafana sends them.

The expressions come from `acgs_dashboards.queryload.run_dashboard` (which expands template
variables and Grafana's built-ins exactly as a page load does); whether a target is an
instant query (`GET /api/v1/query`) or a range query over the dashboard's time range
(`GET /api/v1/query_range`) comes from the dashboard JSON.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from acgs_dashboards.queryload import DashboardLoad

# Grafana asks for about one point per pixel of a ~1000 px panel, never under the scrape interval.
POINTS_PER_PANEL = 1000
MIN_STEP_S = 15


@dataclass(frozen=True)
class QueryRequest:
    """One HTTP request a dashboard panel makes against the Prometheus API."""

    kind: Literal["instant", "range"]
    expr: str
    range_s: float = 3600.0
    source: str = ""

    @property
    def path(self) -> str:
        return "/api/v1/query" if self.kind == "instant" else "/api/v1/query_range"

    @property
    def step_s(self) -> int:
        return max(MIN_STEP_S, int(self.range_s // POINTS_PER_PANEL))

    def params(self, now: float) -> dict[str, str]:
        if self.kind == "instant":
            return {"query": self.expr, "time": f"{now:.3f}"}
        start = (now - self.range_s) // self.step_s * self.step_s
        return {
            "query": self.expr,
            "start": f"{start:.0f}",
            "end": f"{now // self.step_s * self.step_s:.0f}",
            "step": str(self.step_s),
        }


def _panels(panels: Iterable[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))  # panels inside rows


def _instant_targets(dashboard: Mapping[str, Any]) -> set[tuple[Any, str]]:
    return {
        (panel.get("id"), target.get("refId", ""))
        for panel in _panels(dashboard.get("panels", []))
        for target in panel.get("targets", [])
        if target.get("instant")
    }


def query_mix(
    dashboards: Sequence[Mapping[str, Any]], loads: Sequence[DashboardLoad]
) -> list[QueryRequest]:
    """Every panel query of every dashboard once; `loads[i]` is `run_dashboard(dashboards[i])`."""
    mix = []
    for dashboard, load in zip(dashboards, loads, strict=True):
        instant = _instant_targets(dashboard)
        for panel in load.panels:
            for query in panel.queries:
                kind: Literal["instant", "range"] = (
                    "instant" if (panel.panel_id, query.ref_id) in instant else "range"
                )
                mix.append(
                    QueryRequest(kind, query.expr, load.end - load.start,
                                 f"{load.title} / {panel.title}")
                )  # fmt: skip
    if not mix:
        raise ValueError("the dashboards hold no Prometheus panel queries: nothing to load-test")
    return mix
