"""The simulator CPU benchmark runs and prints every scenario (no timing is asserted)."""

from __future__ import annotations

from pathlib import Path

from acgs_testkit.benchmarks import run_benchmark

BENCH = Path(__file__).parents[1] / "benchmarks" / "bench_sim_cpu.py"


def test_bench_sim_cpu_quick_run() -> None:
    out = run_benchmark(BENCH, "--window", "1", timeout_s=180)
    for scenario in ("no traffic", "default traffic", "traffic + scrapes"):
        assert scenario in out
