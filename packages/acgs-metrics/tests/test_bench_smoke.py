"""The benchmark script runs and reports every figure (a smoke run; no timing is asserted)."""

from __future__ import annotations

import json
from pathlib import Path

from acgs_testkit.benchmarks import run_benchmark
from acgs_testkit.paths import REPO_ROOT

BENCH = REPO_ROOT / "packages" / "acgs-metrics" / "benchmarks" / "bench_instruments.py"


def test_bench_quick_run_reports_every_row(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    printed = run_benchmark(BENCH, "--quick", "--json", str(out))
    assert "acgs_metrics vs prometheus_client" in printed
    rows = json.loads(out.read_text())
    names = {row["name"] for row in rows}
    assert {
        "counter child inc()",
        "labels() cache hit vs Counter.labels()",
        "render() vs generate_latest()",
        "OpenMetrics render()",
        "multiprocess render()",
        "multiprocess OpenMetrics",
        "1,000 label sets (tracemalloc)",
        "set_compliance_score vs cached child",
        "record_action_cost vs cached child",
        "time_synthesis vs cached child",
    } <= names
    facade_rows = [row for row in rows if row["group"] == "facade vs cached child"]
    assert len(facade_rows) == 13
    assert all(row["target"] == 1.15 for row in facade_rows)
    for row in rows:
        assert row["ours_median"] > 0
        assert row["base_median"] > 0
    sizes = {row["name"]: row for row in rows}["bytes (text format)"]
    # Same series on both sides: the bodies differ only in _created timestamps' digits.
    assert abs(sizes["ratio_min"] - 1) < 0.01


def test_bench_scrape_quick_run_reports_both_services() -> None:
    printed = run_benchmark(
        REPO_ROOT / "packages/acgs-metrics/benchmarks/bench_scrape.py", "--quick"
    )
    assert "acgs_metrics" in printed
    assert "prometheus_client" in printed
    assert "ratio" in printed
