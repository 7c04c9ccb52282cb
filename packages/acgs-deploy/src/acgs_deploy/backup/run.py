"""Backup, verify and restore wired to the deployed local stack: its paths and processes, the
clients of its components (TLS and basic auth), the key, the progress bars and the tables.

The key comes from `--key-file` (its first line) or BACKUP_ENCRYPTION_KEY in monitoring.env.
A restore stops the stateful components, swaps the files in and starts them again through the
local backend, which also renders the configuration anew for this stack.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import httpx
from rich.console import Console

from acgs_deploy.backends.local import LocalBackend
from acgs_deploy.backup.archive import ArchiveError, Passphrase
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
from acgs_deploy.backup.snapshot import BackupError, BackupSources, create_backup
from acgs_deploy.client import ComponentName, stack_client
from acgs_deploy.secrets import Secrets
from acgs_deploy.settings import StackSettings

__all__ = [
    "load_passphrase",
    "restore_paths",
    "run_backup",
    "run_restore",
    "run_verify",
    "stack_origin",
    "stack_paths",
    "writable_dir",
]

# Components whose files a restore replaces; they are stopped and started around the swap.
STATEFUL = ("prometheus", "alertmanager", "node_exporter", "grafana")
# The TSDB can be large: counting and snapshots get generous timeouts.
API_TIMEOUT_S = 600.0


def load_passphrase(settings: StackSettings, key_file: Path | None) -> Passphrase:
    """The key from `key_file` (its first line) or BACKUP_ENCRYPTION_KEY in monitoring.env."""
    if key_file is None:
        return Passphrase(Secrets.load(settings.state_dir).backup_encryption_key)
    try:
        text = key_file.read_text(encoding="utf-8")
    except OSError as error:
        raise ArchiveError(f"{key_file}: cannot read the key file: {error.strerror}") from None
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise ArchiveError(f"{key_file}: the key file is empty; its first line is the key")
    return Passphrase(lines[0].strip())


def stack_paths(settings: StackSettings) -> dict[str, Path]:
    """What a backup holds besides the TSDB and silences."""
    layout = settings.layout
    return {
        "config": layout.config_dir,
        "certs": layout.certs_dir,
        "monitoring.env": layout.env_file,
        "grafana": layout.grafana_data,
    }


def restore_paths(settings: StackSettings) -> dict[str, Path]:
    """Where a restore puts the backup's files back. Not config/: the rendered files name the
    backed-up stack's paths and ports, so a restore renders them anew for this stack instead
    (the archive keeps them for reference)."""
    return {k: v for k, v in stack_paths(settings).items() if k != "config"}


def stack_origin(settings: StackSettings) -> StackOrigin:
    """Where this stack lives, as a manifest records it."""
    return StackOrigin(
        state_dir=str(settings.state_dir.resolve()),
        host=settings.connect_host,
        ports=settings.ports(),
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
    backup holds, then delete what the retention rules no longer keep."""
    passphrase = load_passphrase(settings, key_file)
    running = LocalBackend(settings).running()
    if "prometheus" not in running:
        raise BackupError(
            f"Prometheus is not running for {settings.state_dir}: run `invoke deploy` first"
        )
    out = writable_dir(out_dir or settings.layout.backups_dir)
    alertmanager = _client(settings, "alertmanager") if "alertmanager" in running else None
    grafana = _client(settings, "grafana") if "grafana" in running else None
    with _client(settings, "prometheus") as prometheus, byte_progress(console) as bar:
        sources = BackupSources(
            prometheus=prometheus,
            prometheus_data_dir=settings.layout.prometheus_data,
            alertmanager=alertmanager,
            grafana=grafana,
            paths=stack_paths(settings),
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
    for client in (alertmanager, grafana):
        if client is not None:
            client.close()
    console.print(metrics_table(result.manifest))
    console.print(backup_table(result))
    expired = prune(out, keep_last=keep_last, keep_days=keep_days)
    if expired:
        console.print(f"retention: deleted {', '.join(p.name for p in expired)}")
    return result.path


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


def _restore_targets(settings: StackSettings) -> RestoreTargets:
    """Where the backup's parts go, and how to stop, configure and start exactly the stateful
    components that run now."""
    backend = LocalBackend(settings)
    running = list(backend.running())
    names = [name for name in running if name in STATEFUL]
    if "prometheus" not in running:
        raise RestoreError(
            f"Prometheus is not running for {settings.state_dir}: run `invoke deploy` first, "
            "then restore into it"
        )

    def start() -> None:
        failed = backend.start(names)
        exited = [name for name, why in failed.items() if why == "exited"]
        logs = settings.layout.logs_dir
        if exited:
            raise RestoreError(f"{', '.join(exited)} exited at start; see {logs}")
        if failed:
            raise RestoreError(f"{', '.join(failed)} did not become healthy; see {logs}")

    return RestoreTargets(
        prometheus=lambda: _client(settings, "prometheus"),
        prometheus_data_dir=settings.layout.prometheus_data,
        stop=lambda: backend.stop(names),
        start=start,
        alertmanager=(lambda: _client(settings, "alertmanager"))
        if "alertmanager" in running
        else None,
        grafana=(lambda: _client(settings, "grafana")) if "grafana" in running else None,
        paths=restore_paths(settings),
        configure=backend.configure,
    )


def run_restore(
    settings: StackSettings, backup_file: Path, key_file: Path | None, console: Console
) -> bool:
    """Verify `backup_file` fully, restore it into the running stack and print what came
    back; True when the restored series and sample counts match the manifest."""
    check_backup_file(backup_file)
    passphrase = load_passphrase(settings, key_file)
    targets = _restore_targets(settings)
    size = backup_file.stat().st_size
    with byte_progress(console, enabled=size >= PROGRESS_THRESHOLD) as bar:
        result = restore_backup(
            backup_file,
            passphrase,
            targets,
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
