"""The authentication-cost benchmark runs against a real Prometheus and prints its table
(a short burst; no timing is asserted)."""

from __future__ import annotations

from acgs_testkit.benchmarks import run_benchmark
from acgs_testkit.paths import REPO_ROOT

BENCH = REPO_ROOT / "packages" / "acgs-deploy" / "benchmarks" / "bench_auth.py"


def test_bench_auth_quick_run() -> None:
    out = run_benchmark(
        BENCH, "--costs", "4", "--seconds", "2", "--rate", "20", "--bursts", "wrong password"
    )
    rows = [
        [cell.strip() for cell in line.split("│")[1:-1]]
        for line in out.splitlines()
        if "wrong password" in line
    ]
    # The cost column says "4 (current)" while 4 is the stack's cost.
    assert [[row[0], row[1].split()[0], *row[2:4]] for row in rows] == [
        ["prometheus", "4", "wrong password", "cached"],
        ["prometheus", "4", "wrong password", "uncached"],
    ]
    assert all(row[4].endswith("/2") for row in rows)  # the good client's two queries
