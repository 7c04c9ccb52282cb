"""Query-load reports: a rich table per dashboard, or JSON (`acgs-dashboards queryload`)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import httpx
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from acgs_dashboards.lint.runner import collect_files
from acgs_dashboards.model import DashboardLoadError, load_dashboard
from acgs_dashboards.queryload import DashboardLoad, QueryLoadError, run_dashboard

__all__ = ["load_table", "run_files"]


def load_table(load: DashboardLoad, budget_ms: float | None = None) -> Table:
    total_ms = load.total_s * 1000
    over = budget_ms is not None and total_ms > budget_ms
    table = Table(
        title=f"{load.title} ({load.uid}): {total_ms:.0f} ms total, {load.series} series"
        + (f" - over the {budget_ms:.0f} ms budget" if over else ""),
        title_style="bold red" if over else "bold",
    )
    table.add_column("panel")
    table.add_column("queries", justify="right")
    table.add_column("latency ms", justify="right")
    table.add_column("series", justify="right")
    table.add_column("errors")
    table.add_row(
        "(variables)", "", f"{load.variables_s * 1000:.1f}", "", "; ".join(load.variable_errors)
    )
    for panel in sorted(load.panels, key=lambda p: -p.latency_s):
        table.add_row(
            panel.title,
            str(len(panel.queries)),
            f"{panel.latency_s * 1000:.1f}",
            str(panel.series),
            "; ".join(panel.errors),
        )
    return table


def run_files(
    paths: Iterable[Path],
    client: httpx.Client,
    *,
    json_output: bool = False,
    scrape_interval_s: float = 15.0,
    budget_ms: float | None = None,
    include_collapsed: bool = False,
    console: Console | None = None,
) -> int:
    """Run every dashboard file under ``paths``; 1 when a query failed or a budget was missed."""
    console = console or Console()
    files: Sequence[Path] = collect_files(paths)
    loads: list[DashboardLoad] = []
    with Progress(console=console, transient=True, disable=json_output) as progress:
        task = progress.add_task("running dashboard queries", total=len(files))
        for path in files:
            try:
                board = load_dashboard(path)
            except DashboardLoadError as error:
                raise QueryLoadError(f"{path}:{error.line}: {error}") from error
            try:
                loads.append(
                    run_dashboard(
                        board,
                        client,
                        scrape_interval_s=scrape_interval_s,
                        include_collapsed=include_collapsed,
                    )
                )
            except httpx.HTTPError as error:
                raise QueryLoadError(f"{path}: Prometheus did not answer: {error}") from error
            except QueryLoadError as error:
                raise QueryLoadError(f"{path}: {error}") from error
            progress.advance(task)
    if json_output:
        print(json.dumps([load.as_dict() for load in loads], indent=2))
    else:
        for load in loads:
            console.print(load_table(load, budget_ms))
    failed = any(load.errors for load in loads)
    slow = budget_ms is not None and any(load.total_s * 1000 > budget_ms for load in loads)
    return 1 if failed or slow else 0
