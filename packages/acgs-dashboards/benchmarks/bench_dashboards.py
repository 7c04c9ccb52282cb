"""Benchmark: time to build and to lint all ACGS dashboards.

Prints the median of several runs for: building every dashboard (import the definitions,
run the SDK builders, write JSON and provisioning files), linting the built dashboards
(every check, PromQL parsing included), and the lint cost per query.

    uv run python packages/acgs-dashboards/benchmarks/bench_dashboards.py
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from acgs_dashboards.build import build_all
from acgs_dashboards.lint import LintOptions, lint_paths
from acgs_dashboards.model import load_dashboard
from acgs_promql.index import read_recorded_series
from acgs_testkit.paths import REPO_ROOT

RUNS = 7


def median_ms(action: Callable[[], object], runs: int = RUNS) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def _big_dashboard_lint_ms(copies: int = 600) -> tuple[float, int]:
    """Lint time of one large dashboard (the overview's panels repeated): scaling."""
    import json

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        build_all(out, REPO_ROOT / "dashboards")
        board = json.loads((out / "dashboards" / "acgs-services-overview.json").read_text())
        panels = [p for p in board["panels"] if p["type"] != "row"]
        board["panels"] = [
            dict(panels[i % len(panels)], id=i + 1, title=f"panel {i}") for i in range(copies)
        ]
        big = out / "big.json"
        big.write_text(json.dumps(board, indent=2))
        return median_ms(lambda: lint_paths([big]), runs=3), copies


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        result = build_all(out, REPO_ROOT / "dashboards")
        build_ms = median_ms(lambda: build_all(out, REPO_ROOT / "dashboards"))
        options = LintOptions(recorded=read_recorded_series([REPO_ROOT / "rules"]).series)
        report = lint_paths([out / "dashboards"], options)
        lint_ms = median_ms(lambda: lint_paths([out / "dashboards"], options))
        boards = [load_dashboard(p) for p in result.dashboards]
    panels = sum(len(b.panels) for b in boards)
    queries = sum(len(p.targets) for b in boards for p in b.panels)
    table = Table(title=f"acgs-dashboards: build and lint (median of {RUNS} runs)")
    for column in ("step", "median ms", "per dashboard ms", "per query ms"):
        table.add_column(column, justify="right" if column != "step" else "left")
    n = len(boards)
    table.add_row("build", f"{build_ms:.1f}", f"{build_ms / n:.1f}", f"{build_ms / queries:.2f}")
    table.add_row("lint", f"{lint_ms:.1f}", f"{lint_ms / n:.1f}", f"{lint_ms / queries:.2f}")
    table.add_row(
        "build + lint",
        f"{build_ms + lint_ms:.1f}",
        f"{(build_ms + lint_ms) / n:.1f}",
        f"{(build_ms + lint_ms) / queries:.2f}",
    )
    big_ms, big_panels = _big_dashboard_lint_ms()
    table.add_row(f"lint, one {big_panels}-panel dashboard", f"{big_ms:.1f}", "", "")
    console = Console()
    console.print(table)
    console.print(
        f"{n} dashboards, {panels} panels, {queries} queries; "
        f"lint findings: {len(report.findings)} ({len(report.errors)} errors)"
    )


if __name__ == "__main__":
    main()
