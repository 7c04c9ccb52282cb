"""Backup, verify and restore for a deployed stack (`invoke backup`, `invoke restore`).

Talks to the stack through `acgs_deploy.client.stack_client` (TLS + basic auth), reads the key
from `--key-file` or BACKUP_ENCRYPTION_KEY in monitoring.env, shows a progress bar for large
stores and prints a summary table. Exit codes: 0 done, 1 failed (the message says why; a
refused restore changed nothing), 2 usage, 3 restored but counts differ from the manifest.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import httpx
from rich.console import Console
from rich.markup import escape

from acgs_deploy.backends.local import LocalBackend
from acgs_deploy.backup.archive import ArchiveError, Passphrase
from acgs_deploy.backup.manifest import ManifestError, StackOrigin
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
from acgs_deploy.backup.retention import check_rules, prune
from acgs_deploy.backup.snapshot import BackupError, BackupSources, create_backup
from acgs_deploy.client import APIError, stack_client
from acgs_deploy.configstore import ConfigError
from acgs_deploy.errors import DeployError
from acgs_deploy.render import RenderError
from acgs_deploy.secrets import Secrets, SecretsError
from acgs_deploy.settings import SettingsError, StackSettings
from acgs_deploy.tls import TLSError

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_COUNTS_DIFFER = 3
USER_ERRORS = (
    APIError,
    ArchiveError,
    ManifestError,
    BackupError,
    RestoreError,
    SecretsError,
    SettingsError,
    DeployError,
    ConfigError,
    RenderError,
    TLSError,
    httpx.HTTPError,
    OSError,
)
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


def _client(settings: StackSettings, component: str) -> httpx.Client:
    return stack_client(settings, component, timeout=API_TIMEOUT_S)  # type: ignore[arg-type]


def run_backup(
    settings: StackSettings,
    *,
    out_dir: Path | None,
    key_file: Path | None,
    keep_last: int | None,
    keep_days: float | None,
    console: Console,
) -> Path:
    check_rules(keep_last=keep_last, keep_days=keep_days)
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


def _stack_control(settings: StackSettings) -> tuple[list[str], RestoreTargets]:
    """Which components run now, and how to stop, configure and start exactly those."""
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

    targets = RestoreTargets(
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
    return running, targets


def run_restore(
    settings: StackSettings, backup_file: Path, key_file: Path | None, console: Console
) -> bool:
    """Returns True when the restored counts match the manifest."""
    check_backup_file(backup_file)
    passphrase = load_passphrase(settings, key_file)
    _, targets = _stack_control(settings)
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m acgs_deploy.backup",
        description="Encrypted backup, verification and restore of the ACGS monitoring stack.",
        epilog="Exit codes: 0 done, 1 failed (a refused restore changed nothing), 2 usage, "
        "3 restored but series/sample counts differ from the manifest.",
    )
    parser.add_argument("command", choices=["backup", "verify", "restore"])
    parser.add_argument("--state-dir", type=Path, help="state directory (ACGS_STATE_DIR)")
    parser.add_argument("--stack-file", type=Path, help="YAML stack file (ACGS_STACK_FILE)")
    parser.add_argument(
        "--out", type=Path, help="backup: directory for the file (default <state>/backups)"
    )
    parser.add_argument(
        "--key-file",
        type=Path,
        help="file whose first line is the key (default: BACKUP_ENCRYPTION_KEY in monitoring.env)",
    )
    parser.add_argument("--backup-file", type=Path, help="verify/restore: the .acgsbak file")
    parser.add_argument(
        "--keep-last", type=int, help="backup: then keep only the newest N backups in --out"
    )
    parser.add_argument(
        "--keep-days",
        type=float,
        help="backup: then delete backups older than M days (the newest stays)",
    )
    args = parser.parse_args(argv)
    if args.command in ("verify", "restore") and args.backup_file is None:
        parser.error(f"{args.command} needs --backup-file FILE")
    return run(args.command, **{k: v for k, v in vars(args).items() if k != "command"})


def run(
    command: str,
    *,
    state_dir: Path | str | None = None,
    stack_file: Path | str | None = None,
    out: Path | str | None = None,
    key_file: Path | str | None = None,
    backup_file: Path | str | None = None,
    keep_last: int | str | None = None,
    keep_days: float | str | None = None,
    console: Console | None = None,
    settings: StackSettings | None = None,
) -> int:
    """One command for a deployed stack; prints its outcome and returns the exit code.

    `settings` replaces loading them from state_dir/stack_file (for callers that have them).
    """
    console = console or Console()
    errors = Console(stderr=True, soft_wrap=True)
    key = Path(key_file) if key_file else None
    try:
        last = int(keep_last) if keep_last is not None else None
        days = float(keep_days) if keep_days is not None else None
    except ValueError:
        errors.print("[red]error:[/red] --keep-last takes a whole number, --keep-days a number")
        return EXIT_USAGE
    try:
        check_rules(keep_last=last, keep_days=days)
    except ValueError as error:
        errors.print("[red]error:[/red]", escape(str(error)), highlight=False)
        return EXIT_USAGE
    try:
        if settings is None:
            settings = StackSettings.load(state_dir, stack_file=stack_file)
        if command == "backup":
            run_backup(
                settings,
                out_dir=Path(out) if out else None,
                key_file=key,
                keep_last=last,
                keep_days=days,
                console=console,
            )
        elif command in ("verify", "restore") and backup_file:
            if command == "verify":
                run_verify(settings, Path(backup_file), key, console)
            elif not run_restore(settings, Path(backup_file), key, console):
                return EXIT_COUNTS_DIFFER
        else:
            errors.print(f"[red]error:[/red] {command}: unknown command or missing --backup-file")
            return EXIT_USAGE
    except USER_ERRORS as error:
        errors.print("[red]error:[/red]", escape(str(error)), highlight=False)
        return EXIT_FAILED
    except ValueError as error:
        errors.print("[red]error:[/red]", escape(str(error)), highlight=False)
        return EXIT_USAGE
    return 0


if __name__ == "__main__":
    sys.exit(main())
