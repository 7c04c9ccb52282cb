"""``invoke backfill --hours N``: history for everything the running stack scrapes.

The history ends where the stack's data begins (or at ``--end``, which must not be later), so
it never overlaps what Prometheus holds, and it must lie within the retention. Raw samples
come first; the recording rules are then evaluated over them, level by level. Prometheus keeps
running throughout: it loads the new blocks at its next block reload.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from acgs_deploy.backfill.blocks import PROMTOOL, BlockWriter, move_blocks, windows
from acgs_deploy.backfill.rules import api_proxy, rule_levels
from acgs_deploy.backfill.targets import target_models
from acgs_deploy.client import APIError, api_get, query, stack_client, wait_ready
from acgs_deploy.errors import DeployError, UsageError
from acgs_deploy.settings import StackSettings
from acgs_promql.durations import parse_duration

__all__ = ["BackfillReport", "print_report", "run_backfill"]

# How long Prometheus may take to load moved blocks (it reloads them once a minute).
LOAD_TIMEOUT_S = 180.0
# Head stats report this minimum time for an empty head.
EMPTY_HEAD_MS = 2**63 - 1


@dataclass
class BackfillReport:
    start: float
    end: float
    targets: int
    series: int
    samples: int
    write_s: float  # generating the samples and making their blocks
    recorded_samples: int
    rule_levels: int
    rules_s: float
    blocks: int

    @property
    def samples_per_s(self) -> float:
        return self.samples / self.write_s if self.write_s else 0.0


def run_backfill(
    settings: StackSettings,
    hours: float,
    *,
    end: float | None = None,
    seed: int = 1,
    console: Console | None = None,
) -> BackfillReport:
    console = console or Console()
    client = stack_client(settings, "prometheus", timeout=120)
    try:
        wait_ready(client, timeout_s=5)
    except APIError as error:
        raise DeployError(f"{error}: backfill needs the running stack (invoke deploy)") from None
    data_dirs = [settings.layout.prometheus_data]
    earliest = earliest_data(client, data_dirs)
    start, end = _window(settings, hours, end, earliest)
    staging = settings.layout.data_dir / f"backfill-{int(time.time())}.tmp"
    staging.mkdir(parents=True)
    try:
        report = _write_raw(client, start, end, seed, staging, data_dirs, console)
        _record(settings, client, report, staging, data_dirs, console)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return report


def earliest_data(client: httpx.Client, data_dirs: list[Path]) -> float:
    """When the stack's data starts: its oldest block or the head, whichever is older."""
    head = api_get(client, "/api/v1/status/tsdb")["headStats"]
    times = [int(head["minTime"])] if int(head["minTime"]) < EMPTY_HEAD_MS else []
    for data_dir in data_dirs:
        for meta in data_dir.glob("*/meta.json"):
            times.append(int(json.loads(meta.read_text(encoding="utf-8"))["minTime"]))
    return min(times) / 1000 if times else time.time()


def _window(
    settings: StackSettings, hours: float, end: float | None, earliest: float
) -> tuple[float, float]:
    if not 0 < hours <= 24 * 366:
        raise UsageError(f"--hours {hours:g}: give a number of hours above 0")
    if end is not None and end > earliest:
        raise UsageError(
            f"--end {_iso(end)} would overlap the stack's data, which starts at "
            f"{_iso(earliest)}: give an end at or before it, or leave --end out"
        )
    end = float(int(earliest if end is None else end))
    start = end - hours * 3600
    retention_s = parse_duration(settings.retention)
    if start < time.time() - retention_s:
        longest = max(0.0, (end - (time.time() - retention_s)) / 3600)
        raise UsageError(
            f"{hours:g} hours before {_iso(end)} reach past the retention ({settings.retention}): "
            f"Prometheus would delete them at once; ask for at most {longest:.0f} hours"
        )
    return start, end


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )


def _write_raw(
    client: httpx.Client,
    start: float,
    end: float,
    seed: int,
    staging: Path,
    data_dirs: list[Path],
    console: Console,
) -> BackfillReport:
    began = time.monotonic()
    models = target_models(client, start, end, seed)
    writer = BlockWriter(models, staging, seed)
    cuts = windows(start, end)
    with _progress(console) as progress:
        task = progress.add_task(f"{len(models)} targets, {len(cuts)} windows", total=len(cuts))
        for window_start, window_end in cuts:
            writer.window(window_start, window_end, lambda part: progress.advance(task, part))
        progress.update(task, description="making the last block")
        writer.finish()
    write_s = time.monotonic() - began
    blocks = move_blocks(staging / "blocks", data_dirs)
    with console.status("Prometheus is loading the history (it reloads blocks every minute)"):
        _wait_for_data(client, "count(up)", start + 60, "the backfilled samples")
    return BackfillReport(
        start,
        end,
        len(models),
        writer.written.series,
        writer.written.samples,
        write_s,
        0,
        0,
        0.0,
        len(blocks),
    )


def _record(
    settings: StackSettings,
    client: httpx.Client,
    report: BackfillReport,
    staging: Path,
    data_dirs: list[Path],
    console: Console,
) -> None:
    began = time.monotonic()
    levels = rule_levels(settings.layout.config_dir / "rules")
    with api_proxy(client) as url:
        for level in levels:
            out = staging / f"recorded-{level.number}"
            argv = [
                PROMTOOL, "tsdb", "create-blocks-from", "rules",
                f"--url={url}",
                f"--start={int(report.start)}",
                f"--end={int(report.end)}",
                f"--output-dir={out}",
                f"--eval-interval={settings.evaluation_interval}",
                str(level.write(staging / f"rules-{level.number}.yml")),
            ]  # fmt: skip
            with console.status(f"recording rules, level {level.number} of {len(levels)}"):
                done = subprocess.run(argv, capture_output=True, text=True, check=False)
                if done.returncode != 0:
                    raise DeployError(
                        f"promtool could not evaluate the recording rules of level "
                        f"{level.number} ({', '.join(level.names)}): {done.stderr.strip()[-400:]}"
                    )
                if out.is_dir():
                    report.recorded_samples += _block_samples(out)
                    report.blocks += len(move_blocks(out, data_dirs))
                    # A level's rules may record nothing (no errors, no errors ratio): wait
                    # for the reloads rather than for data.
                    _wait_for_reload(client, f"the recorded series of level {level.number}")
    report.rule_levels = len(levels)
    report.rules_s = time.monotonic() - began


def _block_samples(blocks: Path) -> int:
    """The samples in the blocks under `blocks`, from their meta.json."""
    total = 0
    for meta in blocks.glob("*/meta.json"):
        total += int(json.loads(meta.read_text(encoding="utf-8"))["stats"]["numSamples"])
    return total


def _wait_for_data(client: httpx.Client, expr: str, at: float, what: str) -> None:
    deadline = time.monotonic() + LOAD_TIMEOUT_S
    while time.monotonic() < deadline:
        if query(client, expr, at=at):
            return
        time.sleep(2)
    raise DeployError(
        f"Prometheus did not load {what} within {LOAD_TIMEOUT_S:.0f} s; the blocks are in its "
        "data directory and it should load them at its next block reload: check its log"
    )


def _wait_for_reload(client: httpx.Client, what: str) -> None:
    """Until Prometheus has reloaded its blocks twice: a reload already under way when the
    blocks moved may have listed the directory before them; the next one sees them."""
    first = _reloads(client)
    deadline = time.monotonic() + LOAD_TIMEOUT_S
    while time.monotonic() < deadline:
        if _reloads(client) >= first + 2:
            return
        time.sleep(2)
    raise DeployError(
        f"Prometheus did not reload its blocks to load {what} within {LOAD_TIMEOUT_S:.0f} s; "
        "the blocks are in its data directory: check its log"
    )


def _reloads(client: httpx.Client) -> float:
    """prometheus_tsdb_reloads_total, from Prometheus' own /metrics."""
    response = client.get("/metrics")
    response.raise_for_status()
    found = re.search(r"^prometheus_tsdb_reloads_total (\S+)$", response.text, re.MULTILINE)
    if found is None:
        raise DeployError("Prometheus' /metrics has no prometheus_tsdb_reloads_total")
    return float(found.group(1))


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def print_report(report: BackfillReport, console: Console) -> None:
    table = Table(title=f"Backfilled {_iso(report.start)} to {_iso(report.end)}")
    table.add_column("")
    table.add_column("", justify="right")
    table.add_row("hours", f"{(report.end - report.start) / 3600:g}")
    table.add_row("targets", str(report.targets))
    table.add_row("series (scraped)", f"{report.series:,}")
    table.add_row("samples (scraped)", f"{report.samples:,}")
    table.add_row("written and made into blocks", f"{report.write_s:.1f} s")
    table.add_row("samples per second", f"{report.samples_per_s:,.0f}")
    table.add_row("recording rule levels", str(report.rule_levels))
    table.add_row("samples (recorded)", f"{report.recorded_samples:,}")
    table.add_row("recording rules evaluated in", f"{report.rules_s:.1f} s")
    table.add_row("blocks added", str(report.blocks))
    console.print(table)
