"""Retention: keep the last N backups and/or those younger than M days; never the newest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from acgs_deploy.backup.retention import backup_time, prune, select_expired
from acgs_deploy.backup.snapshot import backup_name
from acgs_deploy.errors import UsageError

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def make_backups(directory: Path, ages_days: list[float]) -> list[Path]:
    paths = []
    for age in ages_days:
        path = directory / backup_name(NOW - timedelta(days=age))
        path.write_bytes(b"x")
        paths.append(path)
    return paths


def test_name_round_trips_to_time() -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    assert backup_time(Path(backup_name(when))) == when
    assert backup_time(Path("notes.txt")) is None
    assert backup_time(Path("acgs-backup-garbage.acgsbak")) is None


def test_keep_last(tmp_path: Path) -> None:
    paths = make_backups(tmp_path, [0, 1, 2, 3, 4])
    (tmp_path / "unrelated.txt").write_text("kept")
    assert prune(tmp_path, keep_last=2, now=NOW) == paths[2:]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [paths[0].name, paths[1].name, "unrelated.txt"]
    )


def test_keep_days(tmp_path: Path) -> None:
    paths = make_backups(tmp_path, [0.5, 6.9, 7.1, 30])
    assert select_expired(tmp_path, keep_days=7, now=NOW) == paths[2:]


def test_either_rule_keeps(tmp_path: Path) -> None:
    paths = make_backups(tmp_path, [10, 20, 30, 40])
    # Nothing is younger than 7 days; the last 2 are kept by count anyway.
    assert select_expired(tmp_path, keep_last=2, keep_days=7, now=NOW) == paths[2:]
    # The newest is kept even when it is older than keep_days.
    assert select_expired(tmp_path, keep_days=1, now=NOW) == paths[1:]


def test_no_rule_expires_nothing_and_bad_rules_are_named(tmp_path: Path) -> None:
    make_backups(tmp_path, [1, 2])
    assert select_expired(tmp_path, now=NOW) == []
    with pytest.raises(UsageError, match="--keep-last must be at least 1"):
        select_expired(tmp_path, keep_last=0)
    with pytest.raises(UsageError, match="--keep-days must be a positive"):
        select_expired(tmp_path, keep_days=-1)
