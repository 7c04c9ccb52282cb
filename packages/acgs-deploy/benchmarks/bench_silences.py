"""Alertmanager silences across a crash: what a write to disk costs, and what kill -9 loses.

Alertmanager 0.25 keeps silences in memory and writes them to disk every
``--data.maintenance-interval`` (the stack's ``alertmanager_maintenance_interval``, 1m) and on
a clean stop. Two parts:

1. Write cost: a throwaway Alertmanager writing every second holds N silences (100, 1,000,
   10,000); prints the file's size and the mean write time, from Alertmanager's own
   ``alertmanager_silences_snapshot_size_bytes`` and ``..._snapshot_duration_seconds``.
2. Crash loss: the stack deployed by acgs-deploy with the interval under test. Silences are
   made at a steady rate, Alertmanager gets SIGKILL at a random moment (after at least one
   interval), the stack's deploy repairs it, and the silences still there are counted. Per
   trial: made, survived, lost, the age at the kill of the oldest lost one (at most the
   interval when the setting works), and the repair time.

Run: ``uv run --frozen python packages/acgs-deploy/benchmarks/bench_silences.py
[--interval 1m] [--trials 3] [--rate 2]`` (default a 10s interval, to be quick).
"""

from __future__ import annotations

import argparse
import random
import re
import tempfile
import time
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from acgs_deploy.client import stack_client
from acgs_deploy.settings import StackSettings
from acgs_testkit.chaos import kill_9, repair
from acgs_testkit.servers import alertmanager
from acgs_testkit.silences import live_silence_ids, make_silence
from acgs_testkit.stack import deployed_stack

SIZES = (100, 1_000, 10_000)
UNITS_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def seconds(interval: str) -> float:
    found = re.fullmatch(r"([0-9]+)(ms|s|m|h)", interval)
    if found is None:
        raise SystemExit(f"--interval {interval!r}: give e.g. 10s or 1m")
    return int(found.group(1)) * UNITS_S[found.group(2)]


def _metric(client: httpx.Client, name: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in Alertmanager's /metrics")


def write_cost(console: Console) -> None:
    table = Table(title="Alertmanager silences written to disk (interval 1s)")
    for column in ("silences", "file KiB", "mean write ms", "share of a 1m interval"):
        table.add_column(column, justify="right")
    duration = "alertmanager_silences_snapshot_duration_seconds"
    with (
        tempfile.TemporaryDirectory(prefix="acgs-bench-am-") as scratch,
        alertmanager(Path(scratch), maintenance_interval="1s") as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        made = 0
        for size in SIZES:
            for index in range(made, size):
                make_silence(client, {"alertname": f"Bench{index}"})
            made = size
            time.sleep(1.5)  # a write with all of them
            total, count = _metric(client, f"{duration}_sum"), _metric(client, f"{duration}_count")
            time.sleep(3.2)
            writes = _metric(client, f"{duration}_count") - count
            mean_s = (_metric(client, f"{duration}_sum") - total) / writes
            size_b = _metric(client, "alertmanager_silences_snapshot_size_bytes")
            table.add_row(
                f"{size:,}", f"{size_b / 1024:,.0f}", f"{mean_s * 1000:.1f}", f"{mean_s / 60:.5%}"
            )
    console.print(table)


def crash_trial(settings: StackSettings, interval_s: float, rate: float) -> list[str]:
    """One trial: silences every 1/rate s, SIGKILL after a random time, repair, count."""
    made: dict[str, float] = {}
    run_for = random.uniform(interval_s, 3 * interval_s)  # noqa: S311 (not security)
    with stack_client(settings, "alertmanager") as client:
        started = time.monotonic()
        while time.monotonic() - started < run_for:
            made[make_silence(client, {"alertname": f"Crash{len(made)}"})] = time.monotonic()
            time.sleep(1 / rate)
    killed_at = time.monotonic()
    kill_9(settings, "alertmanager")
    _, repair_s = repair(settings)
    with stack_client(settings, "alertmanager") as client:
        live = live_silence_ids(client)
    lost_ages = [killed_at - at for sid, at in made.items() if sid not in live]
    oldest = f"{max(lost_ages):.1f}" if lost_ages else "-"
    survived = len(made) - len(lost_ages)
    return [f"{run_for:.0f}", str(len(made)), str(survived), str(len(lost_ages)), oldest,
            f"{interval_s:g}", f"{repair_s:.1f}"]  # fmt: skip


def crash_loss(console: Console, interval: str, trials: int, rate: float) -> None:
    interval_s = seconds(interval)
    table = Table(title=f"kill -9 of Alertmanager, then deploy (interval {interval})")
    columns = ("killed after s", "made", "survived", "lost", "oldest lost s", "bound s", "repair s")
    for column in columns:
        table.add_column(column, justify="right")
    with (
        tempfile.TemporaryDirectory(prefix="acgs-bench-crash-") as scratch,
        deployed_stack(Path(scratch), demo=False, alertmanager_maintenance_interval=interval) as s,
    ):
        for _ in range(trials):
            table.add_row(*crash_trial(s, interval_s, rate))
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--interval", default="10s", help="maintenance interval under test")
    parser.add_argument("--trials", type=int, default=4, help="crashes")
    parser.add_argument("--rate", type=float, default=2.0, help="silences made per second")
    args = parser.parse_args()
    console = Console()
    write_cost(console)
    crash_loss(console, args.interval, args.trials, args.rate)


if __name__ == "__main__":
    main()
