"""The commands (`acgs_deploy.commands`): flags are checked before any work, output is printed
as it is, and every problem the user can act on is one red line with its exit code."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console

from acgs_deploy import commands
from acgs_testkit.paths import REPO_ROOT
from acgs_testkit.ports import free_stack_ports


def _err(capsys: pytest.CaptureFixture[str]) -> str:
    return " ".join(capsys.readouterr().err.split())


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"users": "0"}, "--users must be a whole number >= 1, got '0'"),
        ({"users": "ten"}, "--users must be a whole number >= 1, got 'ten'"),
        ({"duration": "abc"}, "--duration must be a number > 0, got 'abc'"),
        ({"duration": "nan"}, "--duration must be a number > 0"),
        ({"think": "-1"}, "--think must be a number >= 0"),
        ({"detection_trials": "1.5"}, "--detection-trials must be a whole number >= 0"),
        ({"quiet_window": "0"}, "--quiet-window must be a number > 0"),
    ],
)
def test_a_bad_perf_flag_fails_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: dict[str, Any], message: str
) -> None:
    # No stack in the state directory: a check made after any work would complain about that.
    report = tmp_path / "report"
    code = commands.perf(state_dir=tmp_path / "nothing", report=report, **options)
    err = _err(capsys)
    assert code == 2
    assert f"perf: error: {message}" in err
    assert "Traceback" not in err
    assert not report.exists()


def test_report_naming_a_file_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    existing = tmp_path / "taken"
    existing.write_text("keep me")
    code = commands.perf(state_dir=tmp_path / "nothing", report=str(existing))
    assert code == 2
    assert f"--report {existing} is a file" in _err(capsys)
    assert existing.read_text() == "keep me"


Command = Callable[..., int]

# Each command with a bad flag: exit code 2 (usage) before any work; a stack file that is not
# there is a failure (1), as every settings problem is.
BAD_FLAGS: list[tuple[Command, dict[str, Any], int, str]] = [
    (
        commands.deploy,
        {"target": "[k8s]"},
        2,
        "deploy: error: unknown target '[k8s]': use local, compose or kubernetes",
    ),
    (
        commands.deploy,
        {"demo": True, "no_demo": True},
        2,
        "--demo and --no-demo exclude each other",
    ),
    (
        commands.status,
        {"stack_file": "missing.yml"},
        1,
        "status: error: missing.yml: stack file not found",
    ),
    (
        commands.reload,
        {"stack_file": "missing.yml"},
        1,
        "reload: error: missing.yml: stack file not found",
    ),
    (
        commands.down,
        {"stack_file": "missing.yml"},
        1,
        "down: error: missing.yml: stack file not found",
    ),
    (
        commands.health,
        {"output_format": "xml"},
        2,
        "health: error: --format must be text or json, got 'xml'",
    ),
    (commands.perf, {"users": "0"}, 2, "perf: error: --users must be a whole number >= 1, got '0'"),
    (
        commands.overhead,
        {"window": "-3"},
        2,
        "overhead: error: --window must be a number > 0, got '-3'",
    ),
    (commands.overhead, {"output_format": "yaml"}, 2, "--format must be text or json, got 'yaml'"),
    (
        commands.alerts_report,
        {"hours": "x"},
        2,
        "alerts-report: error: --hours must be a number > 0, got 'x'",
    ),
    (
        commands.backup,
        {"keep_last": "many"},
        2,
        "backup: error: --keep-last must be a whole number, got 'many'",
    ),
    (
        commands.backup,
        {"keep_last": 0},
        2,
        "--keep-last must be at least 1 (got 0): the newest stays",
    ),
    (
        commands.backup,
        {"keep_days": "-1"},
        2,
        "--keep-days must be a positive number of days (got -1)",
    ),
    (
        commands.verify_backup,
        {"backup_file": "x", "stack_file": "missing.yml"},
        1,
        "stack file not found",
    ),
    (
        commands.restore,
        {"backup_file": "x", "stack_file": "missing.yml"},
        1,
        "stack file not found",
    ),
]


@pytest.mark.parametrize(("run", "flags", "code", "message"), BAD_FLAGS)
def test_each_command_refuses_a_bad_flag(
    run: Command,
    flags: dict[str, Any],
    code: int,
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    state = tmp_path / "state"
    assert run(state_dir=state, **flags) == code
    err = _err(capsys)
    assert message in err
    assert "Traceback" not in err
    assert not state.exists()  # nothing was done


def _backup_file(tmp_path: Path) -> dict[str, Any]:
    (tmp_path / "some.acgsbak").write_bytes(b"not a backup")
    (tmp_path / "key").write_text("a key\n")
    return {"backup_file": tmp_path / "some.acgsbak", "key_file": tmp_path / "key"}


def _restore_flags(tmp_path: Path) -> dict[str, Any]:
    """A restore onto a stack that is not deployed goes ahead (a new machine): its preflight
    binds the stack's ports (free ones here, not the defaults), then the file is read."""
    stack_file = tmp_path / "stack.yml"
    stack_file.write_text(yaml.safe_dump(free_stack_ports()))
    return {**_backup_file(tmp_path), "stack_file": stack_file}


# Each command on a state directory where nothing is deployed.
NOT_DEPLOYED: list[tuple[Command, Callable[[Path], dict[str, Any]], int, str]] = [
    (commands.status, lambda _: {}, 4, "prometheus │ https://127.0.0.1:9090 │ stopped"),
    (commands.down, lambda _: {}, 0, "stopped: nothing was running"),
    (commands.reload, lambda _: {}, 1, "reload: error: Prometheus is not running for"),
    (commands.health, lambda _: {}, 1, "health: error:"),
    (commands.perf, lambda tmp: {"report": tmp / "r"}, 1, "perf: error:"),
    (commands.overhead, lambda _: {}, 1, "overhead: error: no monitoring process is running"),
    (commands.alerts_report, lambda _: {}, 1, "alerts-report: error:"),
    (
        commands.backup,
        lambda tmp: {"key_file": _backup_file(tmp)["key_file"]},
        1,
        "backup: error: Prometheus is not running for",
    ),
    (commands.backup, lambda _: {}, 1, "backup: error:"),
    (
        commands.verify_backup,
        lambda tmp: {"backup_file": tmp / "none.acgsbak"},
        1,
        "verify-backup: error: " + "{tmp}/none.acgsbak: no such backup file",
    ),
    (commands.restore, _restore_flags, 1, "restore: error: some.acgsbak: not an ACGS backup file"),
]


@pytest.mark.parametrize(("run", "flags", "code", "message"), NOT_DEPLOYED)
def test_each_command_on_a_stack_that_is_not_deployed(
    run: Command,
    flags: Callable[[Path], dict[str, Any]],
    code: int,
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    console = Console(record=True, width=400)
    assert run(state_dir=tmp_path / "state", console=console, **flags(tmp_path)) == code
    shown = " ".join((console.export_text() + capsys.readouterr().err).split())
    assert message.format(tmp=tmp_path) in shown
    assert "Traceback" not in shown


def test_paths_with_brackets_are_printed_as_they_are(tmp_path: Path) -> None:
    # Rich would read "[bold]" in a path as markup and drop it.
    state = tmp_path / "[bold]state"
    console = Console(record=True, width=400)
    assert commands.status(state_dir=state, console=console) == 4  # nothing runs there
    text = console.export_text()
    assert f"credentials: {state / 'monitoring.env'}" in text
    assert f"stop: invoke down --state-dir {state}" in text


def test_an_unparsable_variable_is_an_error_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ACGS_EXTERNAL_LABELS", "notjson")
    assert commands.status(state_dir=tmp_path) == 1
    err = capsys.readouterr().err
    assert "error: ACGS_EXTERNAL_LABELS (external_labels): not a JSON object" in err
    assert "Traceback" not in err


def test_invoke_passes_a_bad_number_through_without_a_traceback() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "invoke", "--search-root", str(REPO_ROOT), "perf",
         "--duration", "abc"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "--duration must be a number > 0, got 'abc'" in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr


def test_invoke_deploy_with_both_demo_flags_is_a_usage_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "invoke", "--search-root", str(REPO_ROOT), "deploy", "--demo",
         "--no-demo", "--state-dir", str(tmp_path / "state")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "deploy: error: --demo and --no-demo exclude each other: give one" in result.stderr
    assert not (tmp_path / "state").exists()
