"""The middleware benchmark runs and prints both rows (a smoke run; no timing is asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).parents[1] / "benchmarks" / "bench_middleware.py"


def test_bench_middleware_quick_run() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--calls", "200"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "RED middleware cost per request" in done.stdout
    rows = [line for line in done.stdout.splitlines() if line.startswith(("│ WSGI", "│ ASGI"))]
    assert len(rows) == 2
