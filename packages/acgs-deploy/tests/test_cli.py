"""The command lines only parse: each subcommand calls its function in acgs_deploy.commands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from acgs_deploy import cli, commands


@pytest.fixture
def called(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Records which command function the parser chose, and with what (nothing is run)."""
    calls: dict[str, Any] = {}
    for name in ("deploy", "status", "reload", "verify_backup", "backup"):

        def record(name: str = name, **arguments: Any) -> int:
            calls[name] = arguments
            return 3

        monkeypatch.setattr(commands, name, record)
    return calls


def test_acgs_deploy_options_go_before_or_after_the_subcommand(called: dict[str, Any]) -> None:
    assert cli.main(["--state-dir", "/a", "status"]) == 3
    assert called["status"] == {
        "state_dir": Path("/a"),
        "stack_file": None,
        "output_format": "text",
    }
    assert cli.main(["deploy", "--no-demo", "--target", "compose", "--state-dir", "/b"]) == 3
    assert called["deploy"] == {
        "state_dir": Path("/b"),
        "stack_file": None,
        "target": "compose",
        "topology": None,
        "demo": False,
        "no_demo": True,
        "allow_fewer_rules": False,
        "out": None,
        "namespace": None,
    }
    assert cli.main(["reload", "--allow-fewer-rules"]) == 3
    assert called["reload"] == {"state_dir": None, "stack_file": None, "allow_fewer_rules": True}


def test_backup_subcommands_call_their_functions(called: dict[str, Any]) -> None:
    assert cli.backup_main(["verify", "--backup-file", "b.acgsbak", "--key-file", "k"]) == 3
    assert called["verify_backup"] == {
        "state_dir": None,
        "stack_file": None,
        "key_file": Path("k"),
        "backup_file": Path("b.acgsbak"),
    }
    assert cli.backup_main(["backup", "--keep-last", "2"]) == 3
    assert called["backup"]["keep_last"] == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["deploy", "--demo", "--no-demo"], "not allowed with argument --demo"),
        (["deploy", "--target", "k8s"], "invalid choice: 'k8s'"),
        (["status", "--demo"], "unrecognized arguments: --demo"),
    ],
)
def test_usage_errors_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
