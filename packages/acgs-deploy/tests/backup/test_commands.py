"""The backup commands: key sources, clear errors, exit codes, and the key never printed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from rich.console import Console

from acgs_deploy import cli, commands
from acgs_deploy.backup.archive import Passphrase, ScryptParams
from acgs_deploy.backup.run import stack_origin, writable_dir
from acgs_deploy.backup.snapshot import BackupError, BackupSources, create_backup
from acgs_deploy.exitcodes import EXIT_USAGE
from acgs_deploy.lock import LOCK_FILE, exclusive
from acgs_deploy.settings import StackSettings
from acgs_testkit.servers import Server

RIGHT_KEY = "right-key-3f9a1c77e0"
WRONG_KEY = "wrong-key-8b2d44aa19"


def test_verify_with_key_files_and_errors(
    prometheus_server: Server,
    tmp_path: Path,
    fast_kdf: ScryptParams,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data_dir = prometheus_server.data
    assert data_dir is not None
    sources = BackupSources(prometheus=prometheus_server.client(), prometheus_data_dir=data_dir)
    result = create_backup(
        sources, tmp_path / "b", Passphrase(RIGHT_KEY), params=fast_kdf, settle_s=2
    )
    settings = StackSettings.load(tmp_path / "state")
    right, wrong = tmp_path / "right.key", tmp_path / "wrong.key"
    right.write_text(RIGHT_KEY + "\n")
    wrong.write_text(WRONG_KEY + "\n")

    console = Console(record=True, width=160)
    code = commands.verify_backup(
        settings=settings, backup_file=result.path, key_file=right, console=console
    )
    assert code == 0
    shown = console.export_text()
    assert "every chunk tag and every file's SHA-256" in shown
    assert "backup_test_total" in shown

    assert commands.verify_backup(settings=settings, backup_file=result.path, key_file=wrong) == 1
    assert "key does not open" in capsys.readouterr().err

    nope = tmp_path / "nope"
    assert commands.verify_backup(settings=settings, backup_file=result.path, key_file=nope) == 1
    assert "nope: cannot read the key file" in capsys.readouterr().err

    (tmp_path / "empty.key").write_text("\n")
    empty = tmp_path / "empty.key"
    assert commands.verify_backup(settings=settings, backup_file=result.path, key_file=empty) == 1
    assert "the key file is empty" in capsys.readouterr().err

    missing = tmp_path / "missing.acgsbak"
    assert commands.verify_backup(settings=settings, backup_file=missing, key_file=right) == 1
    assert "missing.acgsbak: no such backup file" in capsys.readouterr().err

    assert commands.verify_backup(settings=settings, backup_file=result.path.parent) == 1
    assert f"{result.path.parent} is a directory: name one backup file in it, e.g. the " + (
        f"newest there: {result.path}"
    ) in capsys.readouterr().err.replace("\n", "")

    # No monitoring.env in this state dir and no --key-file: say how to get one.
    assert commands.verify_backup(settings=settings, backup_file=result.path) == 1
    assert "monitoring.env does not exist" in capsys.readouterr().err

    everything = shown + capsys.readouterr().out
    assert RIGHT_KEY not in everything
    assert WRONG_KEY not in everything


def test_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = StackSettings.load(tmp_path / "state")
    assert commands.backup(settings=settings, keep_last="many") == EXIT_USAGE
    assert "--keep-last must be a whole number, got 'many'" in capsys.readouterr().err
    # Refused before anything is looked at (without a running stack this would otherwise
    # fail on "Prometheus is not running", and with one only after writing a backup).
    assert commands.backup(settings=settings, keep_last=0) == EXIT_USAGE
    assert "--keep-last must be at least 1 (got 0)" in capsys.readouterr().err
    assert commands.backup(settings=settings, keep_days="-1") == EXIT_USAGE
    assert "--keep-days must be a positive number of days (got -1)" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        cli.backup_main(["restore"])
    assert exit_info.value.code == 2
    assert "the following arguments are required: --backup-file" in capsys.readouterr().err


def test_backup_needs_a_running_prometheus(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = StackSettings.load(tmp_path / "state")
    key = tmp_path / "k"
    key.write_text("some key\n")
    assert commands.backup(settings=settings, key_file=key) == 1
    assert "Prometheus is not running" in capsys.readouterr().err


def test_output_directory_is_created_and_checked_up_front(tmp_path: Path) -> None:
    made = writable_dir(tmp_path / "new" / "backups")
    assert made.is_dir()
    assert list(made.iterdir()) == []
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(BackupError, match=r"a-file/out: cannot write backups there"):
        writable_dir(blocker / "out")


def test_deploy_during_a_restore_is_refused_and_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The restore holds the state directory's lock (the whole-stack test does it with a real
    restore process); a deploy, reload or down meanwhile is refused naming it, and a restore
    during a deploy likewise."""
    settings = StackSettings.load(tmp_path / "state")
    key = tmp_path / "k"
    key.write_text("some key\n")
    backup_file = tmp_path / "b.acgsbak"
    backup_file.write_bytes(b"not read")
    with exclusive(settings, holder="a restore"):
        assert commands.deploy(settings=settings) == 1
        line = " ".join(capsys.readouterr().err.split())
        assert (
            f"deploy: error: a restore (pid {os.getpid()}) is running on {settings.state_dir}"
            in line
        )
        assert "wait for it to finish, then run this again" in line
        assert commands.reload(settings=settings) == 1
        assert "a restore (pid" in capsys.readouterr().err
    with exclusive(settings):
        code = commands.restore(settings=settings, backup_file=backup_file, key_file=key)
        assert code == 1
        assert "another deploy, reload or down (pid" in capsys.readouterr().err
    assert (settings.state_dir / LOCK_FILE).read_text() == ""


def test_the_backed_up_stacks_settings_are_recorded_and_compared(tmp_path: Path) -> None:
    """A backup records the stack's settings that are not the defaults (a new machine's stack
    file can be written from them); a restore elsewhere names each one that differs."""
    old = stack_origin(
        StackSettings.load(tmp_path / "a", retention="30d", prometheus_port=9999, smtp_password="s")
    )
    new = stack_origin(StackSettings.load(tmp_path / "b"))
    assert old.settings == {"retention": "30d", "prometheus_port": 9999}  # no secret
    moved = old.differences(new)
    assert moved[0] == "retention 30d -> (default)"
    assert moved[-1] == "ports prometheus 9999 -> 9090"
    # A backup made before settings were recorded: only what it knows is compared.
    assert old.model_copy(update={"settings": None}).differences(new) == moved[1:]


def test_a_backup_holds_the_lock_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A backup reads configs, certificates and the TSDB that a deploy, reload or restore
    would change under it: it takes the same lock, and is refused while one of them holds it."""
    settings = StackSettings.load(tmp_path / "state")
    key = tmp_path / "k"
    key.write_text("some key\n")
    with exclusive(settings, holder="a backup"):
        assert commands.deploy(settings=settings) == 1
        assert f"a backup (pid {os.getpid()}) is running on" in capsys.readouterr().err
    with exclusive(settings, holder="a restore"):
        assert commands.backup(settings=settings, key_file=key) == 1
        line = " ".join(capsys.readouterr().err.split())
        assert f"backup: error: a restore (pid {os.getpid()}) is running on" in line
