"""Smoke runs of the benchmark scripts: they run and print their figures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

__all__ = ["run_benchmark"]


def run_benchmark(script: Path, *args: str, timeout_s: float = 300) -> str:
    """Run a benchmark script with ``args`` in this interpreter; its output, once it has
    exited 0 (an AssertionError with its stderr otherwise). No timing is judged here."""
    done = subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    assert done.returncode == 0, f"{script.name} exited {done.returncode}: {done.stderr}"
    return done.stdout
