"""bench_live.py runs and prints its table (100 rules, one concurrency); no timing judged."""

from __future__ import annotations

from acgs_testkit.benchmarks import run_benchmark
from acgs_testkit.paths import REPO_ROOT

BENCH = REPO_ROOT / "packages" / "acgs-rules" / "benchmarks" / "bench_live.py"


def test_bench_live_prints_its_table() -> None:
    out = run_benchmark(BENCH, "--quick")
    assert "live lint of 100 rules (600 series over 24 h)" in out
    assert "load average during the run" in out
    row = next(line for line in out.splitlines() if line.strip("│ ").startswith("8 "))
    assert " 80 " in row  # the alerts backtested
