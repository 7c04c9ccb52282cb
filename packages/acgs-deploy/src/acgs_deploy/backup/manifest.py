"""The manifest: the last member of every backup, listing what it holds and what it must restore.

It records each file's size and SHA-256, component versions, the TSDB blocks, and per-metric
series and sample counts over `count_range_ms` taken from Prometheus at snapshot time, so a
restore can be checked against the same numbers.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from acgs_deploy.settings import StackSettings

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 1


# Settings that `StackOrigin.ports` and `.host` already compare.
_IN_PORTS_OR_HOST = frozenset(
    {"host", *(name for name in StackSettings.model_fields if name.endswith("_port"))}
)


class ManifestError(Exception):
    """The manifest is missing, unreadable, or disagrees with the files in the backup."""


class FileEntry(BaseModel):
    path: str
    size: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class BlockInfo(BaseModel):
    ulid: str
    min_time_ms: int
    max_time_ms: int
    samples: int
    series: int


class MetricCounts(BaseModel):
    series: int = Field(ge=0)
    samples: int = Field(ge=0)


class StackOrigin(BaseModel):
    """Which stack a backup came from, so a restore elsewhere can say what differs."""

    state_dir: str
    host: str
    ports: dict[str, int]
    # Its settings that were not the defaults, as a stack file would give them (no secrets,
    # no state directory). None in backups made before they were recorded.
    settings: dict[str, Any] | None = None

    def differences(self, other: StackOrigin) -> list[str]:
        """What differs from `other` (the stack restored into), one phrase each."""
        found = []
        if self.settings is not None and other.settings is not None:
            names = sorted((self.settings.keys() | other.settings.keys()) - _IN_PORTS_OR_HOST)
            found += [
                f"{name} {self.settings.get(name, '(default)')} -> "
                f"{other.settings.get(name, '(default)')}"
                for name in names
                if self.settings.get(name) != other.settings.get(name)
            ]
        if self.state_dir != other.state_dir:
            found.append(f"state directory {self.state_dir} -> {other.state_dir}")
        if self.host != other.host:
            found.append(f"host {self.host} -> {other.host}")
        ports = [
            f"{name} {port} -> {other.ports.get(name, '-')}"
            for name, port in sorted(self.ports.items())
            if other.ports.get(name) != port
        ]
        if ports:
            found.append("ports " + ", ".join(ports))
        return found


class Manifest(BaseModel):
    format: int = MANIFEST_FORMAT
    created: datetime
    snapshot: str
    versions: dict[str, str]
    count_range_ms: tuple[int, int] | None
    metrics: dict[str, MetricCounts]
    blocks: list[BlockInfo]
    silences: int
    dashboards: int = 0  # fetched through Grafana's API (0 when Grafana did not run)
    files: list[FileEntry]
    origin: StackOrigin | None = None  # None in backups of a bare Prometheus (and older ones)

    @property
    def total_samples(self) -> int:
        return sum(count.samples for count in self.metrics.values())

    @property
    def total_series(self) -> int:
        return sum(count.series for count in self.metrics.values())

    @property
    def total_bytes(self) -> int:
        return sum(entry.size for entry in self.files)

    def to_bytes(self) -> bytes:
        return self.model_dump_json(indent=1).encode()

    @classmethod
    def from_bytes(cls, data: bytes, source: str) -> Manifest:
        try:
            manifest = cls.model_validate(json.loads(data))
        except (ValueError, ValidationError) as error:
            raise ManifestError(f"{source}: the manifest is not valid: {error}") from None
        if manifest.format != MANIFEST_FORMAT:
            raise ManifestError(
                f"{source}: manifest format {manifest.format}; this tool reads {MANIFEST_FORMAT}"
            )
        return manifest


def read_block_info(block_dir: Path) -> BlockInfo:
    """A TSDB block's time range and stats from its meta.json."""
    meta = json.loads((block_dir / "meta.json").read_text())
    stats = meta.get("stats", {})
    return BlockInfo(
        ulid=str(meta["ulid"]),
        min_time_ms=int(meta["minTime"]),
        max_time_ms=int(meta["maxTime"]),
        samples=int(stats.get("numSamples", 0)),
        series=int(stats.get("numSeries", 0)),
    )


def compare_files(expected: list[FileEntry], found: dict[str, FileEntry], source: str) -> None:
    """Raise ManifestError unless `found` holds exactly the manifest's files, byte for byte."""
    listed = {entry.path: entry for entry in expected}
    problems = []
    for path, entry in sorted(listed.items()):
        actual = found.get(path)
        if actual is None:
            problems.append(f"{path}: listed in the manifest but not in the archive")
        elif actual.size != entry.size or actual.sha256 != entry.sha256:
            problems.append(f"{path}: size or SHA-256 differs from the manifest")
    problems += [
        f"{path}: in the archive but not in the manifest" for path in found.keys() - listed
    ]
    if problems:
        shown = "; ".join(problems[:5]) + (
            f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        )
        raise ManifestError(f"{source}: {shown}")
