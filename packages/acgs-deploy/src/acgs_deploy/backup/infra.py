"""The demo infrastructure's data in backups: a ``pg_dump`` of the `acgs` database and Redis'
RDB snapshot, inside the same encrypted archive as the TSDB.

Backup: Redis SAVEs, and its RDB is copied aside (``data/redis.rdb``) so that a snapshot Redis
writes meanwhile cannot change the file under the archive; PostgreSQL is dumped (custom
format) into ``data/postgres.dump``. Only the parts that run are taken.
Restore: Redis is stopped with the stack's stateful components and its RDB is swapped in, so
it loads it at start; PostgreSQL's dump is swapped in beside its cluster and, once the server
runs again, ``pg_restore --clean`` puts the database back as it was. The `acgs` role's password
is set to the restored monitoring.env's first (the server stopped), so a backup restores into
another stack, whose cluster was made with another password.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from acgs_deploy.infra import postgres, redis
from acgs_deploy.secrets import Secrets, write_private
from acgs_deploy.settings import StackSettings

__all__ = [
    "POSTGRES_MEMBER",
    "REDIS_MEMBER",
    "discard",
    "dump",
    "prepare_postgres",
    "restore_targets",
    "restored",
]

REDIS_MEMBER = "redis.rdb"
POSTGRES_MEMBER = "postgres.dump"


def _redis_copy(settings: StackSettings) -> Path:
    return settings.layout.data_dir / REDIS_MEMBER


def dump(settings: StackSettings, running: Collection[str]) -> dict[str, Path]:
    """Archive prefix -> file, for the parts that run; stale copies of others are removed."""
    secrets = Secrets.load(settings.state_dir)
    found: dict[str, Path] = {}
    copy = _redis_copy(settings)
    copy.unlink(missing_ok=True)
    if "redis" in running:
        rdb = redis.save(settings, secrets.redis_password)
        write_private(copy, rdb.read_bytes())
        found[REDIS_MEMBER] = copy
    settings.layout.postgres_dump.unlink(missing_ok=True)
    if "postgres" in running:
        found[POSTGRES_MEMBER] = postgres.dump(settings, secrets)
    return found


def restore_targets(settings: StackSettings) -> dict[str, Path]:
    """Where a restore puts them: the RDB where Redis loads it, the dump beside the cluster."""
    return {
        REDIS_MEMBER: settings.layout.redis_data / redis.RDB_NAME,
        POSTGRES_MEMBER: settings.layout.postgres_dump,
    }


def prepare_postgres(settings: StackSettings) -> None:
    """Before the stack starts on restored files: the role takes the restored password."""
    if postgres.has_cluster(settings):
        postgres.set_password(settings, Secrets.load(settings.state_dir))


def restored(settings: StackSettings, running: Collection[str]) -> None:
    """Once the stack runs again: the restored dump into PostgreSQL. The dump is there only
    when this restore swapped one in (a backup removes its own once archived)."""
    dump_file = settings.layout.postgres_dump
    if "postgres" in running and dump_file.is_file():
        postgres.restore_dump(settings, Secrets.load(settings.state_dir), dump_file)
        dump_file.unlink()


def discard(settings: StackSettings) -> None:
    """The copies a backup made, once archived (or when it failed); before a restore, a dump
    an earlier restore left because PostgreSQL did not run then."""
    _redis_copy(settings).unlink(missing_ok=True)
    settings.layout.postgres_dump.unlink(missing_ok=True)
