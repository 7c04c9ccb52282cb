"""The simulator CPU benchmark runs and prints every scenario (no timing is asserted)."""

from __future__ import annotations

from acgs_testkit.benchmarks import run_benchmark
from acgs_testkit.paths import REPO_ROOT

BENCH = REPO_ROOT / "exporters" / "acgs-sim" / "benchmarks" / "bench_sim_cpu.py"


def test_bench_sim_cpu_quick_run() -> None:
    out = run_benchmark(BENCH, "--window", "1", timeout_s=180)
    for scenario in ("no traffic", "default traffic", "traffic + scrapes", "via HAProxy"):
        assert scenario in out
