"""The acgs-deploy command's output: user text is printed as is, errors without tracebacks."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from acgs_deploy import cli


def test_paths_with_brackets_are_printed_as_they_are(tmp_path: Path) -> None:
    # Rich would read "[bold]" in a path as markup and drop it.
    state = tmp_path / "[bold]state"
    console = Console(record=True, width=400)
    assert cli.run("status", state_dir=state, console=console) == 0
    text = console.export_text()
    assert f"credentials: {state / 'monitoring.env'}" in text
    assert f"stop: invoke down --state-dir {state}" in text


def test_unknown_target_is_named(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert cli.run("deploy", target="[k8s]", state_dir=tmp_path) == 2
    assert "unknown target '[k8s]'" in capsys.readouterr().err


def test_unparsable_variable_is_an_error_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ACGS_EXTERNAL_LABELS", "notjson")
    assert cli.run("status", state_dir=tmp_path) == cli.EXIT_FAILED
    err = capsys.readouterr().err
    assert "error: ACGS_EXTERNAL_LABELS (external_labels): not a JSON object" in err
    assert "Traceback" not in err
