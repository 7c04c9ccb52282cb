"""Benchmark: time to build and to lint all ACGS dashboards.

Prints the median of several runs for: building every dashboard (import the definitions,
run the SDK builders, write JSON and provisioning files), linting the built dashboards
(every check, PromQL parsing included), and the lint cost per query. Then the whole
``acgs-dashboards lint`` command (a child process) on one dashboard of 10,000 panels (limit
raised) and of 100,000 panels (refused by the default 5 MiB limit): wall time and peak RSS.

    uv run python packages/acgs-dashboards/benchmarks/bench_dashboards.py
"""

from __future__ import annotations

import json
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
from acgs_testkit.benchmarks import measure_module
from acgs_testkit.paths import REPO_ROOT

RUNS = 7


def median_ms(action: Callable[[], object], runs: int = RUNS) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def _big_dashboard(out: Path, copies: int) -> Path:
    """One large dashboard: the overview's panels repeated ``copies`` times."""
    board = json.loads((out / "dashboards" / "acgs-services-overview.json").read_text())
    panels = [p for p in board["panels"] if p["type"] != "row"]
    board["panels"] = [
        dict(panels[i % len(panels)], id=i + 1, title=f"panel {i}") for i in range(copies)
    ]
    big = out / f"big-{copies}.json"
    big.write_text(json.dumps(board, indent=2))
    return big


def _command_figures(out: Path) -> Table:
    """Time and peak RSS of the whole lint command, in a child process each."""
    table = Table(title="acgs-dashboards lint, whole command (child process)")
    for column in ("input", "file MB", "dashboards", "seconds", "peak RSS MB"):
        table.add_column(column, justify="left" if column == "input" else "right")
    command = ["lint", "--format", "json", "--rules", str(REPO_ROOT / "rules")]
    for copies, limit in ((10_000, ["--max-file-size", "64MiB"]), (100_000, [])):
        path = _big_dashboard(out, copies)
        run = measure_module("acgs_dashboards.cli", *command, *limit, str(path))
        read = json.loads(run.stdout)["summary"]["dashboards"]
        label = f"{copies:,} panels" + (", limit raised" if limit else ", default limit")
        size = path.stat().st_size / 10**6
        table.add_row(
            label, f"{size:.0f}", str(read), f"{run.seconds:.2f}", f"{run.peak_rss_mib:.0f}"
        )
        path.unlink()
    return table


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        result = build_all(out, REPO_ROOT / "dashboards")
        build_ms = median_ms(lambda: build_all(out, REPO_ROOT / "dashboards"))
        options = LintOptions(recorded=read_recorded_series([REPO_ROOT / "rules"]).series)
        report = lint_paths([out / "dashboards"], options)
        lint_ms = median_ms(lambda: lint_paths([out / "dashboards"], options))
        boards = [load_dashboard(p) for p in result.dashboards]
        big = _big_dashboard(out, 600)
        big_ms = median_ms(lambda: lint_paths([big]), runs=3)
        memory = _command_figures(out)
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
    table.add_row("lint, one 600-panel dashboard", f"{big_ms:.1f}", "", "")
    console = Console()
    console.print(table)
    console.print(memory)
    console.print(
        f"{n} dashboards, {panels} panels, {queries} queries; "
        f"lint findings: {len(report.findings)} ({len(report.errors)} errors)"
    )


if __name__ == "__main__":
    main()
