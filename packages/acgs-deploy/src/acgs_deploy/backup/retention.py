"""Retention: which backups in a directory to delete, keeping the last N and/or those of M days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from acgs_deploy.backup.snapshot import BACKUP_SUFFIX
from acgs_deploy.errors import UsageError

_STAMP = "%Y%m%dT%H%M%S%fZ"


def backup_time(path: Path) -> datetime | None:
    """The UTC time in a backup's name (acgs-backup-<time>.acgsbak), or None for other files."""
    name = path.name
    if not (name.startswith("acgs-backup-") and name.endswith(BACKUP_SUFFIX)):
        return None
    try:
        return datetime.strptime(name[len("acgs-backup-") : -len(BACKUP_SUFFIX)], _STAMP).replace(
            tzinfo=UTC
        )
    except ValueError:
        return None


def check_rules(*, keep_last: int | None, keep_days: float | None) -> None:
    """UsageError naming the option unless each rule given can keep something."""
    if keep_last is not None and keep_last < 1:
        raise UsageError(f"--keep-last must be at least 1 (got {keep_last}): the newest stays")
    if keep_days is not None and not keep_days > 0:
        raise UsageError(f"--keep-days must be a positive number of days (got {keep_days:g})")


def select_expired(
    backups_dir: Path,
    *,
    keep_last: int | None = None,
    keep_days: float | None = None,
    now: datetime | None = None,
) -> list[Path]:
    """Backups that neither rule keeps. A backup is kept if it is among the newest `keep_last`
    or younger than `keep_days`; with no rule given nothing expires. The newest is always kept.
    """
    check_rules(keep_last=keep_last, keep_days=keep_days)
    if keep_last is None and keep_days is None:
        return []
    now = now or datetime.now(UTC)
    dated = sorted(
        (
            (when, path)
            for path in backups_dir.glob(f"*{BACKUP_SUFFIX}")
            if (when := backup_time(path))
        ),
        reverse=True,
    )
    expired = []
    for rank, (when, path) in enumerate(dated):
        kept_by_count = keep_last is not None and rank < keep_last
        kept_by_age = keep_days is not None and now - when < timedelta(days=keep_days)
        if rank > 0 and not kept_by_count and not kept_by_age:
            expired.append(path)
    return expired


def prune(
    backups_dir: Path,
    *,
    keep_last: int | None = None,
    keep_days: float | None = None,
    now: datetime | None = None,
) -> list[Path]:
    """Delete the expired backups; returns what was deleted."""
    expired = select_expired(backups_dir, keep_last=keep_last, keep_days=keep_days, now=now)
    for path in expired:
        path.unlink()
    return expired
