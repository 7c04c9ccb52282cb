"""Monitoring overhead: CPU and memory of given processes as a share of the whole machine.

CPU is measured with psutil over a sampling interval (`cpu_percent(interval=...)` semantics:
CPU seconds used during the interval), summed over the processes, and
divided by the machine's capacity (cores x interval). Memory is resident set size against
total RAM, averaged over the samples.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field

import psutil

TARGET_CPU_SHARE = 0.01
TARGET_MEMORY_SHARE = 0.02


@dataclass(frozen=True)
class ProcessUsage:
    name: str
    pid: int
    cpu_share: float
    rss_bytes: int


@dataclass(frozen=True)
class Overhead:
    window_s: float
    cpu_count: int
    memory_total_bytes: int
    processes: list[ProcessUsage] = field(default_factory=list)

    @property
    def cpu_share(self) -> float:
        """Fraction of the whole machine's CPU (all cores) the processes used."""
        return sum(p.cpu_share for p in self.processes)

    @property
    def memory_share(self) -> float:
        return sum(p.rss_bytes for p in self.processes) / self.memory_total_bytes

    def only(self, names: Collection[str]) -> Overhead:
        """The same measurement over these processes alone (e.g. one of each server)."""
        kept = [p for p in self.processes if p.name in names]
        return Overhead(self.window_s, self.cpu_count, self.memory_total_bytes, kept)

    @property
    def passed(self) -> bool:
        return self.cpu_share < TARGET_CPU_SHARE and self.memory_share < TARGET_MEMORY_SHARE


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def measure_overhead(
    pids: Mapping[str, int],
    window_s: float = 30.0,
    samples: int = 10,
    progress: Callable[[float], None] | None = None,
) -> Overhead:
    """Sample `pids` (name -> pid) for `window_s` seconds in `samples` steps.

    Raises ProcessLookupError naming the process when one is not running at the start; a
    process that exits during the window counts with what it used until then.
    """
    if window_s <= 0 or samples < 1:
        raise ValueError("the window and the number of samples must be positive")
    processes: dict[str, psutil.Process] = {}
    for name, pid in pids.items():
        try:
            processes[name] = psutil.Process(pid)
        except psutil.NoSuchProcess:
            raise ProcessLookupError(
                f"{name} (pid {pid}) is not running: see `invoke status`"
            ) from None
    cpu_start = {}
    for name, process in processes.items():
        cpu_start[name] = _cpu_seconds(process)
    rss_sum = dict.fromkeys(processes, 0)
    rss_count = dict.fromkeys(processes, 0)
    cpu_end = dict(cpu_start)
    began = time.monotonic()
    for step in range(samples):
        time.sleep(window_s / samples)
        for name, process in processes.items():
            try:
                with process.oneshot():
                    cpu_end[name] = _cpu_seconds(process)
                    rss_sum[name] += process.memory_info().rss
                    rss_count[name] += 1
            except psutil.NoSuchProcess:
                continue
        if progress is not None:
            progress((step + 1) / samples)
    elapsed = time.monotonic() - began
    cpu_count = psutil.cpu_count() or 1
    usages = [
        ProcessUsage(
            name=name,
            pid=process.pid,
            cpu_share=(cpu_end[name] - cpu_start[name]) / (elapsed * cpu_count),
            rss_bytes=rss_sum[name] // max(1, rss_count[name]),
        )
        for name, process in processes.items()
    ]
    return Overhead(elapsed, cpu_count, psutil.virtual_memory().total, usages)
