"""Take a backup: a TSDB snapshot through the admin API, Alertmanager silences, the files of
configs/rules/certificates/dashboards/secrets, and the manifest, streamed through tar into one
archive.

Nothing is held in memory beyond one tar buffer and one encryption chunk.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from acgs_deploy import __version__
from acgs_deploy.backup.apistate import (
    DASHBOARDS_MEMBER,
    SILENCES_MEMBER,
    fetch_dashboards,
    fetch_silences,
    grafana_version,
)
from acgs_deploy.backup.archive import (
    DEFAULT_CHUNK_SIZE,
    ArchiveWriter,
    Passphrase,
    ScryptParams,
    atomic_output,
)
from acgs_deploy.backup.manifest import (
    MANIFEST_NAME,
    FileEntry,
    Manifest,
    MetricCounts,
    StackOrigin,
    read_block_info,
)
from acgs_deploy.client import (
    APIError,
    alertmanager_status,
    count_samples,
    prometheus_version,
    take_snapshot,
)

BACKUP_SUFFIX = ".acgsbak"
TSDB_PREFIX = "prometheus"
IO_SIZE = 1 << 20
# Counts stop this long before the snapshot: a scrape or rule evaluation started before the
# snapshot may append samples stamped earlier than it, and those must not be counted.
DEFAULT_SETTLE_S = 30.0

Progress = Callable[[int], None]


class BackupError(Exception):
    """A backup could not be taken; nothing was written."""


@dataclass
class BackupSources:
    """Where a backup reads from. Clients carry base URL, TLS and auth already."""

    prometheus: httpx.Client
    prometheus_data_dir: Path
    alertmanager: httpx.Client | None = None
    grafana: httpx.Client | None = None  # only when Grafana runs
    # archive prefix -> local directory or file ("config" -> <state>/config,
    # "monitoring.env" -> <state>/monitoring.env); a missing path is skipped
    paths: dict[str, Path] = field(default_factory=dict)
    origin: StackOrigin | None = None  # recorded in the manifest


@dataclass(frozen=True)
class BackupResult:
    path: Path
    manifest: Manifest
    archive_bytes: int
    seconds: float


class _HashingReader:
    """Wraps a file so tarfile's reads also feed SHA-256 and the progress callback."""

    def __init__(self, source: BinaryIO, progress: Progress | None) -> None:
        self._source = source
        self._progress = progress
        self.hash = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        data = self._source.read(size)
        self.hash.update(data)
        self.size += len(data)
        if self._progress:
            self._progress(len(data))
        return data


def backup_name(now: datetime) -> str:
    return f"acgs-backup-{now.strftime('%Y%m%dT%H%M%S%fZ')}{BACKUP_SUFFIX}"


def _files_under(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            yield path


def _alertmanager_version(client: httpx.Client) -> str:
    try:
        return str(alertmanager_status(client)["versionInfo"]["version"])
    except (APIError, KeyError):
        return "unknown"


def _api_state(
    sources: BackupSources,
) -> tuple[dict[str, str], list[dict[str, Any]], list[dict[str, Any]]]:
    """The components' versions, the Alertmanager silences and the Grafana dashboards."""
    versions = {"acgs-deploy": __version__, "prometheus": prometheus_version(sources.prometheus)}
    silences = []
    if sources.alertmanager is not None:
        versions["alertmanager"] = _alertmanager_version(sources.alertmanager)
        silences = fetch_silences(sources.alertmanager)
    dashboards = []
    if sources.grafana is not None:
        versions["grafana"] = grafana_version(sources.grafana)
        dashboards = fetch_dashboards(sources.grafana)
    return versions, silences, dashboards


def members(prefix: str, root: Path) -> Iterator[tuple[Path, str]]:
    """(local file, archive name) pairs: a directory's files under prefix/, a file as prefix."""
    if root.is_file():
        yield root, prefix
    elif root.is_dir():
        for file in _files_under(root):
            yield file, f"{prefix}/{file.relative_to(root).as_posix()}"


def planned_bytes(trees: list[tuple[str, Path]]) -> int:
    """Bytes the tar will read, for the progress bar."""
    return sum(file.stat().st_size for prefix, root in trees for file, _ in members(prefix, root))


def create_backup(
    sources: BackupSources,
    out_dir: Path,
    passphrase: Passphrase,
    *,
    params: ScryptParams | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    settle_s: float = DEFAULT_SETTLE_S,
    on_start: Callable[[int], None] | None = None,
    progress: Progress | None = None,
    keep_snapshot: bool = False,
) -> BackupResult:
    """Snapshot, count, and stream everything into `out_dir/acgs-backup-<UTC time>.acgsbak`.

    `on_start(total_bytes)` is called once the snapshot exists; `progress(n)` after each read.
    """
    started = time.monotonic()
    created = datetime.now(UTC)
    versions, silences, dashboards = _api_state(sources)
    snapshot_ms = int(time.time() * 1000)
    snapshot_dir = take_snapshot(sources.prometheus, sources.prometheus_data_dir)
    try:
        blocks = [read_block_info(meta.parent) for meta in sorted(snapshot_dir.glob("*/meta.json"))]
        count_range: tuple[int, int] | None = None
        counts: dict[str, MetricCounts] = {}
        if blocks:
            cutoff = snapshot_ms - int(settle_s * 1000)
            count_range = (min(b.min_time_ms for b in blocks), cutoff)
            counted = count_samples(sources.prometheus, *count_range)
            counts = {
                n: MetricCounts(series=c.series, samples=c.samples) for n, c in counted.items()
            }
        trees = [(TSDB_PREFIX, snapshot_dir), *sorted(sources.paths.items())]
        if on_start:
            on_start(planned_bytes(trees))

        path = out_dir / backup_name(created)
        entries: list[FileEntry] = []
        with atomic_output(path) as sink:
            writer = ArchiveWriter(sink, passphrase, params=params, chunk_size=chunk_size)
            with tarfile.open(fileobj=writer, mode="w|", bufsize=IO_SIZE) as tar:  # type: ignore[call-overload]
                tar.copybufsize = IO_SIZE
                for prefix, root in trees:
                    for file, member in members(prefix, root):
                        entries.append(_add_file(tar, file, member, progress))
                if sources.alertmanager is not None:
                    data = json.dumps(silences, indent=1, sort_keys=True).encode()
                    entries.append(_add_bytes(tar, SILENCES_MEMBER, data))
                if sources.grafana is not None:
                    data = json.dumps(dashboards, indent=1, sort_keys=True).encode()
                    entries.append(_add_bytes(tar, DASHBOARDS_MEMBER, data))
                manifest = Manifest(
                    created=created,
                    snapshot=snapshot_dir.name,
                    versions=versions,
                    count_range_ms=count_range,
                    metrics=counts,
                    blocks=blocks,
                    silences=len(silences),
                    dashboards=len(dashboards),
                    files=entries,
                    origin=sources.origin,
                )
                _add_bytes(tar, MANIFEST_NAME, manifest.to_bytes())
            writer.close()
            archive_bytes = sink.tell()
    finally:
        if not keep_snapshot:
            shutil.rmtree(snapshot_dir, ignore_errors=True)
    return BackupResult(path, manifest, archive_bytes, time.monotonic() - started)


def _tarinfo(name: str, size: int, mode: int, mtime: float) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = mode
    info.mtime = int(mtime)
    return info


def _add_file(
    tar: tarfile.TarFile, file: Path, member: str, progress: Progress | None
) -> FileEntry:
    stat = file.stat()
    with file.open("rb") as source:
        reader = _HashingReader(source, progress)
        tar.addfile(_tarinfo(member, stat.st_size, stat.st_mode & 0o777, stat.st_mtime), reader)
    if reader.size != stat.st_size:
        raise BackupError(f"{file} changed size while being backed up; run the backup again")
    return FileEntry(path=member, size=reader.size, sha256=reader.hash.hexdigest())


def _add_bytes(tar: tarfile.TarFile, member: str, data: bytes) -> FileEntry:
    tar.addfile(_tarinfo(member, len(data), 0o600, time.time()), io.BytesIO(data))
    return FileEntry(path=member, size=len(data), sha256=hashlib.sha256(data).hexdigest())
