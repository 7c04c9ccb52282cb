"""Smoke runs of the benchmark scripts (they run and print their figures), and the one way
they measure a command's time and peak memory."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Measured", "measure", "run_benchmark"]


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


@dataclass(frozen=True)
class Measured:
    seconds: float  # wall time, interpreter start-up included
    peak_rss_mib: float  # the child's peak resident set size
    returncode: int
    stdout: str


def measure(command: Sequence[str]) -> Measured:
    """Run ``command`` and measure its wall time and peak RSS (``wait4``'s rusage of that
    one child: no sampling, nothing of this process counted). Stdout goes through a file so
    a large output cannot block the child; stderr is discarded."""
    with tempfile.TemporaryFile("w+") as out:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=out, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)  # so Popen does not wait again
        out.seek(0)
        return Measured(seconds, usage.ru_maxrss / 1024, child.returncode, out.read())
