"""History into TSDB blocks: one OpenMetrics file per two-hour window, turned into a block by
``promtool tsdb create-blocks-from openmetrics`` while the next window is written, so memory
stays bounded by one window and both cores work. Finished blocks move into every Prometheus
data directory, where Prometheus loads them at its next block reload (about once a minute),
without a restart.
"""

from __future__ import annotations

import math
import shutil
import subprocess
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from random import Random

from acgs_deploy.backfill.models import Labels, Point, TargetModel, scrape_series
from acgs_deploy.errors import DeployError
from acgs_metrics.rendering import go_float

__all__ = ["WINDOW_S", "BlockWriter", "move_blocks", "windows"]

# promtool cuts blocks at two-hour boundaries (its fixed block duration in 2.42) and reads the
# whole input once per block: one input file per window keeps that linear.
WINDOW_S = 7200.0
PROMTOOL = "promtool"


def windows(start: float, end: float) -> list[tuple[float, float]]:
    """[start, end) cut at two-hour boundaries (UTC), as promtool's blocks are."""
    cuts = []
    at = start
    while at < end:
        boundary = (math.floor(at / WINDOW_S) + 1) * WINDOW_S
        cuts.append((at, min(boundary, end)))
        at = boundary
    return cuts


@dataclass
class Written:
    samples: int = 0
    series: int = 0


class BlockWriter:
    """Writes the models' samples window by window and makes a block of each in `staging`."""

    def __init__(self, models: Sequence[TargetModel], staging: Path, seed: int) -> None:
        self.models = models
        self.staging = staging
        self._rng = Random(seed)  # noqa: S311 (simulated data)
        self._prefixes: dict[tuple[str, Labels], str] = {}
        self._pending: subprocess.Popen[str] | None = None
        self._pending_file: Path | None = None
        self.written = Written()
        # Each target's scrape phase within its interval, as Prometheus spreads them.
        self._offsets = [self._rng.uniform(0, m.interval_s) for m in models]

    def window(self, start: float, end: float, progress: Callable[[float], None]) -> None:
        """Write [start, end) and start promtool on it (after the previous window's run)."""
        path = self.staging / f"window-{int(start)}.om"
        with path.open("w", encoding="utf-8") as out:
            for model, offset in zip(self.models, self._offsets, strict=True):
                first = start + (offset - start) % model.interval_s
                for at in _steps(first, end, model.interval_s):
                    out.writelines(self._lines(model, at))
                progress(1 / len(self.models))
            out.write("# EOF\n")
        self.finish()
        self._pending_file = path
        self._pending = subprocess.Popen(
            [
                PROMTOOL,
                "tsdb",
                "create-blocks-from",
                "openmetrics",
                "--quiet",
                str(path),
                str(self.staging / "blocks"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def finish(self) -> None:
        """Wait for the last promtool run; its failure is an error naming the window."""
        pending, path = self._pending, self._pending_file
        if pending is None or path is None:
            return
        self._pending = self._pending_file = None
        output, _ = pending.communicate()
        path.unlink(missing_ok=True)
        if pending.returncode != 0:
            raise DeployError(
                f"promtool could not make a block of {path.name}: {output.strip()[-400:]}"
            )

    def _lines(self, model: TargetModel, at: float) -> Iterator[str]:
        points = model.samples(at)
        stamp = f" {at:.3f}\n"
        duration = 0.002 + 0.000002 * len(points or ()) * self._rng.uniform(0.8, 1.5)
        every: Iterable[Point] = [*(points or ()), *scrape_series(model, points, duration)]
        prefixes = self._prefixes
        for name, labels, value in every:
            prefix = prefixes.get((name, labels))
            if prefix is None:
                prefix = prefixes[(name, labels)] = _prefix(name, labels)
                self.written.series += 1
            self.written.samples += 1
            yield f"{prefix}{go_float(value)}{stamp}"


def _steps(first: float, end: float, interval_s: float) -> Iterator[float]:
    at = first
    while at < end:
        yield at
        at += interval_s


def _prefix(name: str, labels: Labels) -> str:
    if not labels:
        return f"{name} "
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
    return f"{name}{{{inner}}} "


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def move_blocks(blocks: Path, data_dirs: list[Path]) -> list[str]:
    """Move every block in `blocks` into each data directory (copied to all but the last, which
    gets the block by rename); the block names."""
    names = sorted(p.name for p in blocks.iterdir() if (p / "meta.json").is_file())
    for name in names:
        for data_dir in data_dirs[:-1]:
            shutil.copytree(blocks / name, data_dir / f"{name}.tmp")
            (data_dir / f"{name}.tmp").rename(data_dir / name)
        # A ".tmp" name first: Prometheus ignores it until the block is whole.
        (blocks / name).rename(data_dirs[-1] / f"{name}.tmp")
        (data_dirs[-1] / f"{name}.tmp").rename(data_dirs[-1] / name)
    return names
