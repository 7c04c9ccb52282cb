"""The demo's PostgreSQL: a cluster under ``<state>/data/postgres`` with a database and a role
both named `acgs` (password POSTGRES_PASSWORD in monitoring.env), listening on TCP only.

PostgreSQL refuses to run as root. As root, the cluster is made with ``runuser -u postgres``
and the server runs as the ``postgres`` system user (`ProcessSpec.user`: the process itself, so
its pid is the postmaster's; a runuser parent would SIGKILL it two seconds after passing on a
stop signal). The user must be able to reach the data directory: the state directory gets
group ``postgres`` with search permission (0710), and every directory above it must let
others search it. As any other user, everything runs as that user.

Passwords travel in files (0600, owned by whoever reads them) and environment variables,
never in argv.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from acgs_deploy.process import ProcessSpec
from acgs_deploy.secrets import Secrets, write_private
from acgs_deploy.settings import StackSettings

__all__ = [
    "DATABASE",
    "ROLE",
    "SYSTEM_USER",
    "PostgresError",
    "bin_dir",
    "client_env",
    "dump",
    "ensure_cluster",
    "has_cluster",
    "postgres_spec",
    "ready",
    "restore_dump",
    "set_password",
    "unreachable",
]

DATABASE = ROLE = "acgs"
SYSTEM_USER = "postgres"
TIMEOUT_S = 120


class PostgresError(RuntimeError):
    """The cluster could not be made, dumped or restored; says why and what to do."""


def bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` with a server, if any."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"),
        key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0,
    )
    return found[-1].parent if found else None


def _binary(name: str) -> str:
    directory = bin_dir()
    if directory is None:
        raise PostgresError(
            "postgres: PostgreSQL is not installed: run `invoke install-deps` as root "
            "(package postgresql), or deploy with --no-infra"
        )
    return str(directory / name)


def _as_root() -> bool:
    return os.geteuid() == 0


def _system_user() -> pwd.struct_passwd | None:
    """The account the server runs as: ``postgres`` as root, else ourselves."""
    if not _as_root():
        return pwd.getpwuid(os.geteuid())
    try:
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        return None


def unreachable(settings: StackSettings) -> str | None:
    """Why the server's user cannot reach the data directory, or None when it can."""
    if not _as_root():
        return None
    account = _system_user()
    if account is None:
        return (
            f"postgres: there is no `{SYSTEM_USER}` system user to run PostgreSQL as (it "
            "refuses root): install the postgresql package (`invoke install-deps`), or deploy "
            "with --no-infra"
        )
    for directory in reversed(settings.state_dir.parents):
        info = directory.stat()
        if info.st_mode & 0o001 or info.st_uid == account.pw_uid:
            continue
        if info.st_gid == account.pw_gid and info.st_mode & 0o010:
            continue
        return (
            f"postgres: the `{SYSTEM_USER}` user cannot reach {settings.layout.postgres_data}: "
            f"{directory} is closed to others (mode {info.st_mode & 0o777:04o}): choose a "
            "--state-dir below directories others may enter, or deploy with --no-infra"
        )
    return None


def _run(
    argv: list[str], what: str, *, stdin: str | None = None, env: dict[str, str] | None = None
) -> str:
    """Run a one-shot PostgreSQL program as the server's user; PostgresError on failure."""
    command = ["runuser", "-u", SYSTEM_USER, "--", *argv] if _as_root() else argv
    try:
        done = subprocess.run(
            command,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
            env=env,
            cwd="/",
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise PostgresError(f"postgres: {what} failed: {error}") from None
    if done.returncode != 0:
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise PostgresError(f"postgres: {what} failed: {last[0]}")
    return done.stdout


@contextlib.contextmanager
def _password_file(password: str) -> Iterator[Path]:
    """The password in a 0600 file the server's user can read, removed afterwards."""
    account = _system_user()
    assert account is not None
    directory = Path(tempfile.mkdtemp(prefix="acgs-pg-"))
    try:
        path = directory / "password"
        write_private(path, password + "\n")
        if _as_root():
            os.chown(directory, account.pw_uid, account.pw_gid)
            os.chown(path, account.pw_uid, account.pw_gid)
        yield path
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def ensure_cluster(settings: StackSettings, secrets: Secrets) -> bool:
    """Make the cluster and the `acgs` database unless they exist; True when made now.

    A failed attempt leaves no half-made cluster behind (the next deploy tries again).
    """
    data = settings.layout.postgres_data
    if has_cluster(settings):
        return False
    problem = unreachable(settings)
    if problem:
        raise PostgresError(problem)
    account = _system_user()
    assert account is not None
    if _as_root():
        state = settings.state_dir
        os.chown(state, -1, account.pw_gid)
        state.chmod(0o710)
    if data.exists():
        shutil.rmtree(data)
    data.mkdir(parents=True, mode=0o700)
    if _as_root():
        os.chown(data, account.pw_uid, account.pw_gid)
    try:
        with _password_file(secrets.postgres_password) as password:
            _run(
                [
                    _binary("initdb"),
                    f"--pgdata={data}",
                    f"--username={ROLE}",
                    f"--pwfile={password}",
                    "--auth=scram-sha-256",
                    "--encoding=UTF8",
                    "--no-instructions",
                    "--no-sync",
                ],
                "initdb",
            )
        _run(
            # No fsync for this one statement: like initdb --no-sync, a cluster cut short by a
            # crash here is made again by the next deploy.
            [_binary("postgres"), "--single", "-c", "fsync=off", "-D", str(data), "postgres"],
            "creating the acgs database",
            stdin=f"CREATE DATABASE {DATABASE} OWNER {ROLE};\n",
        )
    except PostgresError:
        shutil.rmtree(data, ignore_errors=True)
        raise
    return True


def has_cluster(settings: StackSettings) -> bool:
    return (settings.layout.postgres_data / "PG_VERSION").is_file()


def set_password(settings: StackSettings, secrets: Secrets) -> None:
    """Give the `acgs` role POSTGRES_PASSWORD (single-user mode: the server must be stopped;
    the password goes on stdin, never argv)."""
    quoted = secrets.postgres_password.replace("'", "''")
    _run(
        [_binary("postgres"), "--single", "-D", str(settings.layout.postgres_data), "postgres"],
        "setting the acgs role's password",
        stdin=f"ALTER ROLE {ROLE} PASSWORD '{quoted}';\n",
    )


def postgres_spec(settings: StackSettings) -> ProcessSpec | None:
    """The server on `host`:`postgres_port`, TCP only (no socket under /var/run); None when
    PostgreSQL is not installed."""
    directory = bin_dir()
    if directory is None:
        return None
    listen = "*" if settings.host in ("0.0.0.0", "::", "") else settings.host  # noqa: S104
    argv = [
        str(directory / "postgres"),
        "-D", str(settings.layout.postgres_data),
        "-p", str(settings.postgres_port),
        "-c", f"listen_addresses={listen}",
        "-c", "unix_socket_directories=",
        "-c", "logging_collector=off",
    ]  # fmt: skip
    user = SYSTEM_USER if _as_root() else None
    # SIGINT: fast shutdown (clients are disconnected); SIGTERM would wait for all of them.
    return ProcessSpec("postgres", argv, user=user, stop_signal=signal.SIGINT)


def client_env(settings: StackSettings, secrets: Secrets) -> dict[str, str]:
    """libpq's environment for the `acgs` database (password included, never argv)."""
    return {
        **os.environ,
        "PGHOST": settings.connect_host,
        "PGPORT": str(settings.postgres_port),
        "PGUSER": ROLE,
        "PGDATABASE": DATABASE,
        "PGPASSWORD": secrets.postgres_password,
        "PGCONNECT_TIMEOUT": "5",
    }


def ready(settings: StackSettings) -> bool:
    """``pg_isready``: the server accepts connections."""
    directory = bin_dir()
    if directory is None:
        return False
    argv = [str(directory / "pg_isready"), "-q", "-t", "2", "-h", settings.connect_host,
            "-p", str(settings.postgres_port)]  # fmt: skip
    try:
        return subprocess.run(argv, timeout=5, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _client(argv: list[str], what: str, env: dict[str, str]) -> None:
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=600, env=env, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise PostgresError(f"postgres: {what} failed: {error}") from None
    if done.returncode != 0:
        last = done.stderr.strip().splitlines()[-1:] or ["(no output)"]
        raise PostgresError(f"postgres: {what} failed: {last[0]}")


def dump(settings: StackSettings, secrets: Secrets) -> Path:
    """``pg_dump`` of the `acgs` database (custom format) into `layout.postgres_dump`."""
    out = settings.layout.postgres_dump
    partial = out.with_name(out.name + ".part")
    _client([_binary("pg_dump"), "--format=custom", f"--file={partial}"], "pg_dump",
            client_env(settings, secrets))  # fmt: skip
    partial.chmod(0o600)
    os.replace(partial, out)
    return out


def restore_dump(settings: StackSettings, secrets: Secrets, path: Path) -> None:
    """Put the `acgs` database back as `path` (a `dump`) holds it: its objects are dropped and
    made again from the dump."""
    argv = [_binary("pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction",
            f"--dbname={DATABASE}", str(path)]  # fmt: skip
    _client(argv, "pg_restore", client_env(settings, secrets))
