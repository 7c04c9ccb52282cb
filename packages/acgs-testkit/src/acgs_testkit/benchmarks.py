"""Smoke runs of the benchmark scripts (they run and print their figures), and the one way
they measure a command's time and peak memory."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Measured", "measure_module", "run_benchmark"]


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
    peak_rss_mib: float  # the child's own peak resident set size (VmHWM)
    returncode: int
    stdout: str


# Runs a module as ``python -m`` would, then reports the process's own peak RSS. Not
# getrusage: Linux carries ru_maxrss across exec, so a child of a large process (pytest, a
# benchmark holding a big input) would report its parent's size; VmHWM is the new image's.
_REPORT_PEAK = """\
import atexit, runpy, sys
def report():
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    sys.stderr.write(f"\\nvmhwm_kib={line.split()[1]}\\n")
atexit.register(report)
sys.argv = sys.argv[1:]
runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
"""


def measure_module(module: str, *args: str) -> Measured:
    """Run ``python -m module args`` in a child and measure its wall time and peak RSS.
    Stdout goes through a file, so a large output cannot block the child."""
    command = [sys.executable, "-c", _REPORT_PEAK, module, *args]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        done = subprocess.run(command, stdout=out, stderr=err, check=False)
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        reported = err.read().rsplit("vmhwm_kib=", 1)
        assert len(reported) == 2, f"{module} reported no peak RSS: {reported[0][-2000:]}"
        peak_kib = int(reported[1].split()[0])
        return Measured(seconds, peak_kib / 1024, done.returncode, out.read())
