"""Benchmark: how long each ACGS dashboard takes to load its queries (target: 2000 ms).

Starts a throwaway stack (acgs-sim, Prometheus with the repository's rules, Alertmanager,
node_exporter; see acgs_testkit.stack), lets it collect data for a while, then runs
every dashboard's queries as Grafana would on load, several times, and prints the median
total per dashboard and its slowest panel. The stack is minutes old, so the figures are a
floor: a Prometheus holding the dashboards' whole default ranges answers more slowly.

    uv run python packages/acgs-dashboards/benchmarks/bench_queryload.py
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.progress import track
from rich.table import Table

from acgs_dashboards.build import build_all
from acgs_dashboards.queryload import DashboardLoad, run_dashboard
from acgs_testkit.paths import REPO_ROOT
from acgs_testkit.stack import local_stack

RUNS = 5
WARM_UP_S = 20
TARGET_MS = 2000


def main() -> None:
    console = Console()
    with (
        tempfile.TemporaryDirectory() as tmp,
        local_stack([REPO_ROOT / "rules" / "*.yml"]) as stack,
    ):
        result = build_all(Path(tmp), REPO_ROOT / "dashboards")
        boards = [json.loads(p.read_text()) for p in result.dashboards]
        for _ in track(range(WARM_UP_S), description="collecting data", console=console):
            time.sleep(1)
        loads: dict[str, list[DashboardLoad]] = {b["uid"]: [] for b in boards}
        with stack.client() as client:
            for _ in track(range(RUNS), description="loading dashboards", console=console):
                for board in boards:
                    loads[board["uid"]].append(run_dashboard(board, client, scrape_interval_s=1))
    table = Table(title=f"dashboard load, median of {RUNS} (target {TARGET_MS} ms)")
    for column in ("dashboard", "queries", "total ms", "variables ms", "slowest panel", "ms"):
        table.add_column(
            column, justify="left" if column in ("dashboard", "slowest panel") else "right"
        )
    for uid, runs in loads.items():
        total = statistics.median(r.total_s * 1000 for r in runs)
        variables = statistics.median(r.variables_s * 1000 for r in runs)
        last = runs[-1]
        slowest = max(last.panels, key=lambda p: p.latency_s)
        queries = sum(len(p.queries) for p in last.panels)
        table.add_row(
            uid,
            str(queries),
            f"{total:.0f}",
            f"{variables:.0f}",
            slowest.title,
            f"{slowest.latency_s * 1000:.0f}",
        )
    console.print(table)
    worst = max(statistics.median(r.total_s for r in runs) for runs in loads.values()) * 1000
    console.print(f"slowest dashboard: {worst:.0f} ms = {worst / TARGET_MS:.2f} x the target")


if __name__ == "__main__":
    main()
