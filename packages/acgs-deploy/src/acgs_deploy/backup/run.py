"""Backup, verify and restore wired to the deployed local stack: its paths and processes, the
clients of its components (TLS and basic auth), the key, the progress bars and the tables.

The key comes from `--key-file` or BACKUP_ENCRYPTION_KEY in monitoring.env (`keyfile`).
A restore holds the state directory's lock (as deploy, reload and down do), stops the stateful
components that run, swaps the files in and starts the whole stack through the local backend,
which also renders the configuration anew for this stack. So it works onto a running stack, a
stopped one, and an empty state directory on a new machine alike.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import httpx
from rich.console import Console

from acgs_deploy import mode
from acgs_deploy.backends.local import LocalBackend
from acgs_deploy.backup import infra as infra_backup
from acgs_deploy.backup.archive import Passphrase
from acgs_deploy.backup.keyfile import load_passphrase
from acgs_deploy.backup.manifest import StackOrigin
from acgs_deploy.backup.report import (
    PROGRESS_THRESHOLD,
    backup_table,
    byte_progress,
    manifest_table,
    metrics_table,
    mismatch_table,
    restore_table,
)
from acgs_deploy.backup.restore import (
    RestoreError,
    RestoreTargets,
    check_backup_file,
    restore_backup,
    verify_backup,
)
from acgs_deploy.backup.retention import prune
from acgs_deploy.backup.snapshot import BackupError, BackupResult, BackupSources, create_backup
from acgs_deploy.client import ComponentName, stack_client
from acgs_deploy.components import components
from acgs_deploy.infra.postgres import PostgresError
from acgs_deploy.infra.redis import RedisError
from acgs_deploy.lock import exclusive
from acgs_deploy.settings import SECRET_FIELDS, StackSettings

__all__ = [
    "restore_paths",
    "run_backup",
    "run_restore",
    "run_verify",
    "stack_origin",
    "stack_paths",
    "writable_dir",
]

# Components whose files a restore replaces; they are stopped and started around the swap.
# (PostgreSQL too: its role takes the restored password while it is stopped.)
STATEFUL = ("prometheus", "alertmanager", "node_exporter", "grafana", "redis", "postgres")
# The TSDB can be large: counting and snapshots get generous timeouts.
API_TIMEOUT_S = 600.0


def stack_paths(settings: StackSettings) -> dict[str, Path]:
    """What a backup holds besides the TSDB and silences."""
    layout = settings.layout
    return {
        "config": layout.config_dir,
        "certs": layout.certs_dir,
        "monitoring.env": layout.env_file,
        "grafana": layout.grafana_data,
        mode.MODE_FILE: settings.state_dir / mode.MODE_FILE,
    }


def restore_paths(settings: StackSettings) -> dict[str, Path]:
    """Where a restore puts the backup's files back. Not config/: the rendered files name the
    backed-up stack's paths and ports, so a restore renders them anew for this stack instead
    (the archive keeps them for reference). The deploy mode (demo or not) only into a state
    directory that has none yet: a stack deployed here keeps its own."""
    paths = {k: v for k, v in stack_paths(settings).items() if k != "config"}
    if paths[mode.MODE_FILE].exists():
        del paths[mode.MODE_FILE]
    return {**paths, **infra_backup.restore_targets(settings)}


def stack_origin(settings: StackSettings) -> StackOrigin:
    """Where this stack lives, as a manifest records it."""
    return StackOrigin(
        state_dir=str(settings.state_dir.resolve()),
        host=settings.connect_host,
        ports=settings.ports(),
        settings=settings.model_dump(
            mode="json", exclude_defaults=True, exclude={"state_dir", *SECRET_FIELDS}
        ),
    )


def writable_dir(path: Path) -> Path:
    """Create `path` and prove a file can be written there, before any work is done."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
            pass
    except OSError as error:
        raise BackupError(
            f"{path}: cannot write backups there ({error.strerror}); choose another --out "
            "or fix its permissions"
        ) from None
    return path


def _client(settings: StackSettings, component: ComponentName) -> httpx.Client:
    return stack_client(settings, component, timeout=API_TIMEOUT_S)


def run_backup(
    settings: StackSettings,
    *,
    out_dir: Path | None,
    key_file: Path | None,
    keep_last: int | None,
    keep_days: float | None,
    console: Console,
) -> Path:
    """Back up the running stack into `out_dir` (default <state>/backups), print what the
    backup holds, then delete what the retention rules no longer keep. Holds the state
    directory's lock: a deploy, reload or restore meanwhile would change what it reads."""
    passphrase = load_passphrase(settings, key_file)
    with exclusive(settings, holder="a backup"):
        result, out = _back_up(settings, passphrase, out_dir, console)
    console.print(metrics_table(result.manifest))
    console.print(backup_table(result))
    expired = prune(out, keep_last=keep_last, keep_days=keep_days)
    if expired:
        console.print(f"retention: deleted {', '.join(p.name for p in expired)}")
    return result.path


def _back_up(
    settings: StackSettings, passphrase: Passphrase, out_dir: Path | None, console: Console
) -> tuple[BackupResult, Path]:
    running = LocalBackend(settings).running()
    if "prometheus" not in running:
        raise BackupError(
            f"Prometheus is not running for {settings.state_dir}: run `invoke deploy` first"
        )
    out = writable_dir(out_dir or settings.layout.backups_dir)
    alertmanager = _client(settings, "alertmanager") if "alertmanager" in running else None
    grafana = _client(settings, "grafana") if "grafana" in running else None
    try:
        with _client(settings, "prometheus") as prometheus, byte_progress(console) as bar:
            sources = BackupSources(
                prometheus=prometheus,
                prometheus_data_dir=settings.layout.prometheus_data,
                alertmanager=alertmanager,
                grafana=grafana,
                paths={**stack_paths(settings), **infra_backup.dump(settings, running)},
                origin=stack_origin(settings),
            )
            result = create_backup(
                sources,
                out,
                passphrase,
                on_start=lambda total: (
                    bar.begin("backup", total) if total >= PROGRESS_THRESHOLD else None
                ),
                progress=bar.advance,
            )
    except (PostgresError, RedisError) as error:
        raise BackupError(str(error)) from None
    finally:
        infra_backup.discard(settings)
    for client in (alertmanager, grafana):
        if client is not None:
            client.close()
    return result, out


def run_verify(
    settings: StackSettings, backup_file: Path, key_file: Path | None, console: Console
) -> None:
    """Check every chunk tag and every file hash of `backup_file`; changes nothing."""
    check_backup_file(backup_file)
    passphrase = load_passphrase(settings, key_file)
    size = backup_file.stat().st_size
    with byte_progress(console, enabled=size >= PROGRESS_THRESHOLD) as bar:
        bar.begin("verify", size)
        manifest = verify_backup(backup_file, passphrase, progress=bar.advance)
    console.print(metrics_table(manifest))
    table = manifest_table(manifest, f"Verified {backup_file.name}")
    table.add_row("verified", "every chunk tag and every file's SHA-256")
    console.print(table)


def _restore_targets(settings: StackSettings, backend: LocalBackend) -> RestoreTargets:
    """Where the backup's parts go; how to stop the stateful components that run now, and to
    configure and start the whole stack on the restored files (or what ran before on the
    previous ones, after a roll-back)."""
    running = list(backend.running())
    stateful = [name for name in running if name in STATEFUL]
    # A dump left by an earlier restore that PostgreSQL was not there to take: not this one's.
    infra_backup.discard(settings)

    def start(names: list[str]) -> None:
        failed = backend.start(names)
        exited = [name for name, why in failed.items() if why == "exited"]
        logs = settings.layout.logs_dir
        if exited:
            raise RestoreError(f"{', '.join(exited)} exited at start; see {logs}")
        if failed:
            raise RestoreError(f"{', '.join(failed)} did not become healthy; see {logs}")
        try:
            infra_backup.restored(settings, backend.running())
        except PostgresError as error:
            raise RestoreError(str(error)) from None

    def configure() -> set[str]:
        # A new state directory takes the backup's deploy mode (deploy.json is back by now).
        backend.demo = mode.last_demo(settings)
        changed = backend.configure()
        if "postgres" in backend.infra_parts():
            try:
                infra_backup.prepare_postgres(settings)
            except PostgresError as error:
                raise RestoreError(str(error)) from None
        return changed

    def resume() -> None:
        if running:  # a stack stopped before the restore stays stopped
            configure()
            start(running)

    installed = {c.name for c in components(settings, demo=True) if c.spec is not None}
    parts = backend.infra_parts
    return RestoreTargets(
        prometheus=lambda: _client(settings, "prometheus"),
        prometheus_data_dir=settings.layout.prometheus_data,
        stop=lambda: backend.stop(stateful),
        start=lambda: start(
            [
                c.name
                for c in components(settings, demo=backend.demo, infra=parts())
                if c.spec is not None
            ]
        ),
        alertmanager=lambda: _client(settings, "alertmanager"),
        grafana=(lambda: _client(settings, "grafana")) if "grafana" in installed else None,
        paths=restore_paths(settings),
        configure=configure,
        resume=resume,
    )


def run_restore(
    settings: StackSettings, backup_file: Path, key_file: Path | None, console: Console
) -> bool:
    """Verify `backup_file` fully, restore it into this stack (running, stopped, or an empty
    state directory) and print what came back; True when the restored series and sample
    counts match the manifest."""
    check_backup_file(backup_file)
    passphrase = load_passphrase(settings, key_file)
    size = backup_file.stat().st_size
    with (
        exclusive(settings, holder="a restore"),
        byte_progress(console, enabled=size >= PROGRESS_THRESHOLD) as bar,
    ):
        backend = LocalBackend(settings)
        backend.preflight()  # what deploy checks: refused before anything is stopped
        result = restore_backup(
            backup_file,
            passphrase,
            _restore_targets(settings, backend),
            progress=bar.advance,
            on_phase=lambda phase: (
                bar.begin(phase, size) if phase == "verify and extract" else console.log(phase)
            ),
        )
    origin = result.manifest.origin
    moved = origin.differences(stack_origin(settings)) if origin else []
    console.print(metrics_table(result.manifest))
    console.print(restore_table(result, backup_file, moved))
    if result.mismatches:
        console.print(mismatch_table(result))
    return not result.mismatches
