"""What people see: a byte progress bar for long passes and summary tables after each command."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from acgs_deploy.backup.manifest import Manifest
from acgs_deploy.backup.restore import RestoreResult
from acgs_deploy.backup.snapshot import BackupResult

# Below this a bar would only flicker.
PROGRESS_THRESHOLD = 64 << 20


class ByteProgress:
    """A rich bar fed with byte counts; `advance` and `begin` fit the backup/restore callbacks."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._task: TaskID | None = None

    def begin(self, description: str, total: int) -> None:
        if self._task is not None:
            self._progress.remove_task(self._task)
        self._task = self._progress.add_task(description, total=total)

    def advance(self, size: int) -> None:
        if self._task is not None:
            self._progress.advance(self._task, size)


@contextlib.contextmanager
def byte_progress(console: Console, enabled: bool = True) -> Iterator[ByteProgress]:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True, disable=not enabled) as progress:
        yield ByteProgress(progress)


def _mib(size: int) -> str:
    return f"{size / (1 << 20):,.1f} MiB"


def manifest_table(manifest: Manifest, title: str) -> Table:
    table = Table(title=title, show_header=True)
    table.add_column("item", no_wrap=True)
    table.add_column("value", overflow="fold")
    table.add_row("created", manifest.created.isoformat(timespec="seconds"))
    for component, version in sorted(manifest.versions.items()):
        table.add_row(f"{component} version", version)
    table.add_row("files", f"{len(manifest.files):,}")
    table.add_row("size before encryption", _mib(manifest.total_bytes))
    table.add_row("TSDB blocks", f"{len(manifest.blocks):,}")
    table.add_row("metrics", f"{len(manifest.metrics):,}")
    table.add_row("series", f"{manifest.total_series:,}")
    table.add_row("samples", f"{manifest.total_samples:,}")
    table.add_row("silences", f"{manifest.silences:,}")
    table.add_row("dashboards (Grafana API)", f"{manifest.dashboards:,}")
    origin = manifest.origin
    if origin is not None and origin.settings is not None:
        # What a stack file would need to hold to run the stack as it was (none: defaults).
        shown = ", ".join(f"{k}: {v}" for k, v in sorted(origin.settings.items()))
        table.add_row("stack settings (not the defaults)", escape(shown) or "none")
    return table


def metrics_table(manifest: Manifest, top: int = 10) -> Table:
    """The metrics with the most samples, as counted for the manifest."""
    table = Table(title=f"Largest of {len(manifest.metrics):,} metrics (counted at snapshot time)")
    table.add_column("metric", overflow="fold")
    table.add_column("series", justify="right")
    table.add_column("samples", justify="right")
    largest = sorted(manifest.metrics.items(), key=lambda item: -item[1].samples)[:top]
    for name, counts in largest:
        table.add_row(name, f"{counts.series:,}", f"{counts.samples:,}")
    return table


def backup_table(result: BackupResult) -> Table:
    table = manifest_table(result.manifest, f"Backup {result.path.name}")
    table.add_row("archive", str(result.path))
    table.add_row("archive size", _mib(result.archive_bytes))
    rate = result.manifest.total_bytes / (1 << 20) / max(result.seconds, 1e-9)
    table.add_row("time", f"{result.seconds:.1f} s ({rate:,.1f} MiB/s)")
    return table


def restore_table(result: RestoreResult, path: Path, moved: Sequence[str] = ()) -> Table:
    """`moved`: how the backed-up stack differs from this one (state dir, host, ports,
    settings)."""
    table = manifest_table(result.manifest, f"Restored {path.name}")
    origin = result.manifest.origin
    if origin is not None:
        table.add_row("backed up from", origin.state_dir)
    if moved:
        table.add_row(
            "[yellow]restored into another stack[/yellow]",
            "; ".join(moved) + ". Data, secrets and certificates came from the backup; the "
            "configuration was rendered for this stack.",
        )
    for name, target in sorted(result.restored.items()):
        table.add_row(f"restored {name}", str(target))
    if result.config_changed is not None:
        changed = ", ".join(sorted(result.config_changed)) or "nothing changed"
        table.add_row("config rendered for this stack", changed)
    for name, aside in sorted(result.previous.items()):
        size = _mib(result.previous_bytes.get(name, 0))
        table.add_row(f"previous {name} kept at", f"{aside} ({size}; delete when satisfied)")
    if result.pruned:
        table.add_row(
            "older before-restore copies deleted", ", ".join(str(p) for p in result.pruned)
        )
    table.add_row("silences re-created", f"{result.silences:,}")
    table.add_row("dashboards saved to Grafana", f"{result.dashboards:,}")
    check = "all match" if not result.mismatches else f"{len(result.mismatches)} metrics differ"
    table.add_row("series/sample check", check)
    return table


def mismatch_table(result: RestoreResult) -> Table:
    table = Table(title="Counts that differ from the manifest")
    for column in (
        "metric",
        "expected series",
        "expected samples",
        "found series",
        "found samples",
    ):
        table.add_column(column)
    for mismatch in result.mismatches:
        found = mismatch.found
        table.add_row(
            mismatch.metric,
            f"{mismatch.expected.series:,}",
            f"{mismatch.expected.samples:,}",
            f"{found.series:,}" if found else "-",
            f"{found.samples:,}" if found else "-",
        )
    return table
