"""The simulator CPU benchmark runs and prints every scenario (no timing is asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).parents[1] / "benchmarks" / "bench_sim_cpu.py"


def test_bench_sim_cpu_quick_run() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--window", "1"],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for scenario in ("no traffic", "default traffic", "traffic + scrapes"):
        assert scenario in done.stdout
