"""Dashboard load: each dashboard's panel queries as Grafana issues them on page load, timed.

Each dashboard is loaded `runs` times with `acgs_dashboards.queryload.run_dashboard`; the
p95 of the total (first variable query to last panel answer) is held against 2000 ms.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from acgs_deploy.perf.stats import percentile

if TYPE_CHECKING:
    from acgs_dashboards.queryload import DashboardLoad

TARGET_P95_MS = 2000.0


@dataclass(frozen=True)
class DashboardTiming:
    title: str
    totals_ms: list[float]
    queries: int
    errors: list[str]

    @property
    def p95_ms(self) -> float:
        return percentile(self.totals_ms, 95)

    @property
    def passed(self) -> bool:
        return not self.errors and self.p95_ms < TARGET_P95_MS


def load_dashboards(directory: Path) -> list[dict[str, Any]]:
    """Every `*.json` dashboard in `directory`, sorted by file name."""
    files = sorted(directory.glob("*.json"))
    if not files:
        raise FileNotFoundError(f"no dashboards (*.json) in {directory}: deploy the stack first")
    return [json.loads(path.read_text()) for path in files]


def measure_dashboards(
    dashboards: Sequence[Mapping[str, Any]],
    client: httpx.Client,
    runs: int = 5,
    scrape_interval_s: float = 15.0,
    progress: Callable[[int], None] | None = None,
) -> tuple[list[DashboardTiming], list[DashboardLoad]]:
    """The timings per dashboard, and the first load of each (for the load test's query mix)."""
    from acgs_dashboards.queryload import run_dashboard

    timings, first_loads = [], []
    done = 0
    for dashboard in dashboards:
        loads = []
        for _ in range(runs):
            loads.append(run_dashboard(dashboard, client, scrape_interval_s=scrape_interval_s))
            done += 1
            if progress is not None:
                progress(done)
        first_loads.append(loads[0])
        timings.append(
            DashboardTiming(
                title=loads[0].title,
                totals_ms=[load.total_s * 1000 for load in loads],
                queries=sum(len(panel.queries) for panel in loads[0].panels),
                errors=sorted({error for load in loads for error in load.errors}),
            )
        )
    return timings, first_loads
