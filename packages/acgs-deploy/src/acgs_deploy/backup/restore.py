"""Verify a backup end to end, then restore it.

verify_backup reads the whole file: every chunk's tag, every tar member against the
manifest's size and SHA-256. restore_backup does the same pass while writing into staging
directories beside each target, and touches nothing else if that pass fails; then it stops the
stack, swaps the staging directories in (the previous contents are kept beside them, only the
latest such copy), lets the caller fit the configuration to this stack, starts the stack, puts
the silences back and checks the restored series and sample counts against the manifest. If the
stack does not come up on the restored files, the previous ones go back and what ran before
starts on them. From the stop until the silences are back, SIGINT, SIGTERM and SIGHUP are held
(`signals.held_signals`) and honoured only once the stack runs again, before the count check.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import stat
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, NoReturn

import httpx

from acgs_deploy.backup.apistate import (
    API_MEMBERS,
    DASHBOARDS_MEMBER,
    SILENCES_MEMBER,
    restore_dashboards,
    restore_silences,
)
from acgs_deploy.backup.archive import ArchiveReader, Passphrase
from acgs_deploy.backup.manifest import (
    MANIFEST_NAME,
    FileEntry,
    Manifest,
    ManifestError,
    MetricCounts,
    compare_files,
)
from acgs_deploy.backup.signals import held_signals
from acgs_deploy.backup.snapshot import IO_SIZE, TSDB_PREFIX, Progress
from acgs_deploy.client import count_samples, wait_ready


class RestoreError(Exception):
    """A restore step failed; the message says which and what state the stack is in."""


class RestoreInterrupted(RestoreError):
    """A signal arrived while the stack was stopped; the restore finished putting everything
    back first, and stopped before checking the counts."""


@dataclass(frozen=True)
class Mismatch:
    metric: str
    expected: MetricCounts
    found: MetricCounts | None


@dataclass
class RestoreResult:
    manifest: Manifest
    restored: dict[str, Path]
    previous: dict[str, Path]
    silences: int
    dashboards: int
    mismatches: list[Mismatch] = field(default_factory=list)
    # What `RestoreTargets.configure` changed (None when there is no such step).
    config_changed: set[str] | None = None
    # Bytes in each `previous` copy, and older copies deleted (only the latest is kept).
    previous_bytes: dict[str, int] = field(default_factory=dict)
    pruned: list[Path] = field(default_factory=list)


def _safe_member(member: tarfile.TarInfo, source: str) -> str:
    path = PurePosixPath(member.name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise ManifestError(f"{source}: unsafe path {member.name!r} in the archive")
    if not member.isfile():
        raise ManifestError(f"{source}: {member.name!r} is not a regular file")
    return path.as_posix()


def _walk(
    path: Path,
    passphrase: Passphrase,
    write: Callable[[str, tarfile.TarInfo], Any] | None,
    progress: Progress | None,
) -> tuple[Manifest, dict[str, Any]]:
    """One authenticated pass over the archive; returns the manifest and the API state members.

    `write(name, info)` may return a binary file to receive the member's bytes.
    """
    source = path.name
    found: dict[str, FileEntry] = {}
    manifest_bytes: bytes | None = None
    api_state: dict[str, Any] = {}
    with path.open("rb") as stream:
        reader = ArchiveReader(stream, passphrase, name=source)
        seen = reader.ciphertext_bytes
        try:
            with tarfile.open(fileobj=reader, mode="r|", bufsize=IO_SIZE) as tar:  # type: ignore[call-overload]
                for member in tar:
                    name = _safe_member(member, source)
                    if manifest_bytes is not None:
                        raise ManifestError(f"{source}: {name!r} follows the manifest")
                    extracted = tar.extractfile(member)
                    assert extracted is not None  # a regular file, checked above
                    digest = hashlib.sha256()
                    size = 0
                    keep = name == MANIFEST_NAME or name in API_MEMBERS
                    kept = bytearray()
                    target = write(name, member) if write and name != MANIFEST_NAME else None
                    try:
                        while block := extracted.read(IO_SIZE):
                            digest.update(block)
                            size += len(block)
                            if keep:
                                kept += block
                            if target is not None:
                                target.write(block)
                            if progress:
                                progress(reader.ciphertext_bytes - seen)
                                seen = reader.ciphertext_bytes
                    finally:
                        if target is not None:
                            target.close()
                    if name == MANIFEST_NAME:
                        manifest_bytes = bytes(kept)
                    else:
                        if name in API_MEMBERS:
                            try:
                                api_state[name] = json.loads(kept)
                            except ValueError:
                                raise ManifestError(f"{source}: {name} is not JSON") from None
                        found[name] = FileEntry(path=name, size=size, sha256=digest.hexdigest())
        except tarfile.TarError as error:
            raise ManifestError(
                f"{source}: the archive's contents are not a valid tar: {error}"
            ) from None
        # Authenticate what tar did not need to read (padding, end-of-archive, the final chunk).
        reader.drain()
        if progress:
            progress(reader.ciphertext_bytes - seen)
    if manifest_bytes is None:
        raise ManifestError(f"{source}: the archive has no {MANIFEST_NAME}")
    manifest = Manifest.from_bytes(manifest_bytes, source)
    compare_files(manifest.files, found, source)
    return manifest, api_state


def check_backup_file(path: Path) -> None:
    """A clear error unless `path` is a file (a directory is named as one)."""
    if path.is_dir():
        newest = max(path.glob("*.acgsbak"), default=None)
        hint = f", e.g. the newest there: {newest}" if newest else ""
        raise RestoreError(f"{path} is a directory: name one backup file in it{hint}")
    if not path.is_file():
        raise RestoreError(f"{path}: no such backup file")


def verify_backup(
    path: Path, passphrase: Passphrase, *, progress: Progress | None = None
) -> Manifest:
    """Check every tag and every file hash; returns the manifest. Writes nothing."""
    check_backup_file(path)
    manifest, _ = _walk(path, passphrase, None, progress)
    return manifest


@dataclass
class RestoreTargets:
    """Where each part of a backup goes, and how to stop and start what uses it."""

    # Client factories: a restore may bring back other credentials, so connect after the swap.
    prometheus: Callable[[], httpx.Client]
    prometheus_data_dir: Path
    stop: Callable[[], None]
    start: Callable[[], None]
    alertmanager: Callable[[], httpx.Client] | None = None
    # After the swap, before start: make the configuration fit this stack (its paths, ports)
    # from the files now in place; returns the configuration files that changed. Called again
    # after a roll-back.
    configure: Callable[[], set[str]] | None = None
    grafana: Callable[[], httpx.Client] | None = None
    # archive prefix -> local directory or file, as in BackupSources.paths
    paths: dict[str, Path] = field(default_factory=dict)
    # With the previous files back after a failed start: bring back what ran before the
    # restore (None: configure, then start).
    resume: Callable[[], None] | None = None

    def start_previous(self) -> None:
        if self.resume is not None:
            self.resume()
            return
        if self.configure is not None:
            self.configure()
        self.start()


def _staging(target: Path) -> Path:
    return target.with_name(f"{target.name}.restore-staging")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _extract(
    path: Path, passphrase: Passphrase, targets: dict[str, Path], progress: Progress | None
) -> tuple[Manifest, dict[str, Any]]:
    """Write each target's members into `<target>.restore-staging` (a directory, or a file for
    a single-file target) while verifying."""
    for target in targets.values():
        _remove(_staging(target))

    def write(name: str, info: tarfile.TarInfo) -> Any:
        prefix, _, rest = name.partition("/")
        if prefix not in targets:
            return None
        destination = _staging(targets[prefix]) / rest if rest else _staging(targets[prefix])
        destination.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL, info.mode & 0o777 or 0o600)
        return os.fdopen(fd, "wb")

    return _walk(path, passphrase, write, progress)


def _swap_in(targets: dict[str, Path], stamp: str) -> tuple[dict[str, Path], dict[str, Path]]:
    """Move each staged target into place, the old one aside; all or nothing.

    Returns (restored, previous): archive prefix -> target, and -> where the old one went. The
    copy kept aside is always the real directory or file: for a symlinked target (config ->
    config.d/v-...) the directory it points to is moved, so nothing can prune it later.
    """
    restored: dict[str, Path] = {}
    previous: dict[str, Path] = {}
    try:
        for prefix, target in targets.items():
            if not (_staging(target).exists()):
                continue
            aside = target.with_name(f"{target.name}.before-restore-{stamp}")
            if target.is_symlink():
                if target.exists():  # not dangling
                    os.replace(target.resolve(), aside)
                    previous[prefix] = aside
                target.unlink()
            elif target.exists():
                os.replace(target, aside)
                previous[prefix] = aside
            os.replace(_staging(target), target)
            restored[prefix] = target
            if target.is_dir():
                # Directory modes are not in the archive: keep the old one (certs/ is 0700).
                old = previous.get(prefix)
                mode = stat.S_IMODE(old.stat().st_mode) if old and old.is_dir() else 0o700
                target.chmod(mode)
    except OSError as error:
        with contextlib.suppress(OSError):
            _swap_back(targets, restored, previous)
        raise RestoreError(f"could not move restored files into place: {error}") from None
    return restored, previous


def _swap_back(
    targets: dict[str, Path], restored: dict[str, Path], previous: dict[str, Path]
) -> None:
    """Undo _swap_in: the restored files go, the previous ones return to their places."""
    for prefix, target in targets.items():
        if prefix not in restored and prefix not in previous:
            continue
        if prefix in restored:
            _remove(target)
        if prefix in previous:
            os.replace(previous[prefix], target)


def _tree_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def _prune_previous(previous: dict[str, Path]) -> list[Path]:
    """Delete older before-restore copies of the same targets; only the latest is kept."""
    pruned = []
    for aside in previous.values():
        name = aside.name.rsplit(".before-restore-", 1)[0]
        for older in aside.parent.glob(f"{name}.before-restore-*"):
            if older != aside:
                _remove(older)
                pruned.append(older)
    return sorted(pruned)


def _start_or_roll_back(
    targets: RestoreTargets,
    paths: dict[str, Path],
    restored: dict[str, Path],
    previous: dict[str, Path],
    phase: Callable[[str], None],
) -> set[str] | None:
    """Configure and start on the restored files; if that fails, go back to the old ones."""
    try:
        changed = None
        if targets.configure is not None:
            phase("configure")
            changed = targets.configure()
        phase("start")
        targets.start()
    except Exception as error:  # any failure here must roll back
        phase("roll back")
        _roll_back(targets, paths, restored, previous, error)
    return changed


def _roll_back(
    targets: RestoreTargets,
    paths: dict[str, Path],
    restored: dict[str, Path],
    previous: dict[str, Path],
    error: Exception,
) -> NoReturn:
    reason = str(error) or type(error).__name__
    try:
        targets.stop()
        _swap_back(paths, restored, previous)
        targets.start_previous()
    except Exception as second:  # reported with the first failure
        kept = ", ".join(str(p) for p in previous.values()) or "none"
        raise RestoreError(
            f"the stack did not start on the restored files ({reason}), and going back to the "
            f"previous ones failed too ({second or type(second).__name__}). The previous files "
            f"are at: {kept}; see the component logs, fix the cause and run `invoke deploy`."
        ) from None
    raise RestoreError(
        f"the stack did not start on the restored files: {reason}. The previous data, secrets "
        "and configuration were put back and what ran before runs on them again: nothing was "
        "restored."
    ) from None


def compare_counts(expected: dict[str, MetricCounts], found: dict[str, Any]) -> list[Mismatch]:
    mismatches = []
    for name, want in sorted(expected.items()):
        got = found.get(name)
        have = MetricCounts(series=got.series, samples=got.samples) if got else None
        if have != want:
            mismatches.append(Mismatch(name, want, have))
    return mismatches


def _stop_swap_start(
    targets: RestoreTargets, paths: dict[str, Path], phase: Callable[[str], None]
) -> tuple[dict[str, Path], dict[str, Path], set[str] | None]:
    """Stop, swap the staged files in, configure and start; roll back if that fails.
    Returns (restored, previous, what the configure step changed)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    phase("stop")
    targets.stop()
    try:
        restored, previous = _swap_in(paths, stamp)
    except RestoreError:
        # The old state is back in place: run on it.
        targets.start_previous()
        raise
    changed = _start_or_roll_back(targets, paths, restored, previous, phase)
    return restored, previous, changed


def _api_state_back(
    targets: RestoreTargets, api_state: dict[str, Any], phase: Callable[[str], None]
) -> tuple[int, int]:
    """Put the silences and dashboards back; returns how many of each were created."""
    silences = dashboards = 0
    if targets.alertmanager is not None and SILENCES_MEMBER in api_state:
        phase("silences")
        with targets.alertmanager() as alertmanager:
            silences = restore_silences(alertmanager, api_state[SILENCES_MEMBER])
    if targets.grafana is not None and DASHBOARDS_MEMBER in api_state:
        phase("dashboards")
        with targets.grafana() as grafana:
            dashboards = restore_dashboards(grafana, api_state[DASHBOARDS_MEMBER])
    return silences, dashboards


INTERRUPT_NOTICE = (
    "the restore has the stack stopped; it finishes starting it (or rolling back) first, then stops"
)


def restore_backup(
    path: Path,
    passphrase: Passphrase,
    targets: RestoreTargets,
    *,
    progress: Progress | None = None,
    on_phase: Callable[[str], None] | None = None,
) -> RestoreResult:
    """Verify while extracting to staging, stop, swap in, start, restore silences, check counts."""
    phase = on_phase or (lambda _: None)
    check_backup_file(path)
    paths = {TSDB_PREFIX: targets.prometheus_data_dir, **targets.paths}
    # One pass authenticates every chunk and hash while writing into staging paths beside the
    # targets; the running stack is only touched once that pass has succeeded.
    phase("verify and extract")
    try:
        manifest, api_state = _extract(path, passphrase, paths, progress)
    except BaseException:
        for target in paths.values():
            _remove(_staging(target))
        raise
    with held_signals(INTERRUPT_NOTICE) as received:
        try:
            restored, previous, config_changed = _stop_swap_start(targets, paths, phase)
        except RestoreError as error:
            if not received:
                raise
            held = ", ".join(sorted(set(received)))
            raise RestoreError(f"{error} ({held} was held until this was done.)") from None
        silences, dashboards = _api_state_back(targets, api_state, phase)
    result = RestoreResult(
        manifest,
        restored,
        previous,
        silences,
        dashboards,
        config_changed=config_changed,
        previous_bytes={prefix: _tree_bytes(aside) for prefix, aside in previous.items()},
        pruned=_prune_previous(previous),
    )
    if received:
        kept = ", ".join(str(p) for p in previous.values()) or "none"
        raise RestoreInterrupted(
            f"interrupted by {', '.join(sorted(set(received)))} while the stack was stopped; the "
            "restore finished first: the stack runs on the restored files, with "
            f"{silences} silence(s) re-created (previous files kept at: {kept}). It stopped "
            "before checking the restored series and sample counts."
        )
    phase("check")
    with targets.prometheus() as client:
        wait_ready(client)
        if manifest.count_range_ms is not None:
            found = count_samples(client, *manifest.count_range_ms)
            result.mismatches = compare_counts(manifest.metrics, found)
    return result
