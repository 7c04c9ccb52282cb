"""The middleware benchmark runs and prints both rows (a smoke run; no timing is asserted)."""

from __future__ import annotations

from acgs_testkit.benchmarks import run_benchmark
from acgs_testkit.paths import REPO_ROOT

BENCH = REPO_ROOT / "packages" / "acgs-metrics" / "benchmarks" / "bench_middleware.py"


def test_bench_middleware_quick_run() -> None:
    out = run_benchmark(BENCH, "--calls", "200", timeout_s=120)
    assert "RED middleware cost per request" in out
    rows = [line for line in out.splitlines() if line.startswith(("│ WSGI", "│ ASGI"))]
    assert len(rows) == 2
