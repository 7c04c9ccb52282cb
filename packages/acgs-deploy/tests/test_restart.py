"""`restart` without a stack: the flag it needs and the state it refuses, before any work.
The rolling restart of a running stack is tested on real processes in tests/test_restart_stack.py
(single topology) and tests/test_ha_faults.py (ha)."""

from __future__ import annotations

from pathlib import Path

import pytest

from acgs_deploy import cli, commands


def _err(capsys: pytest.CaptureFixture[str]) -> str:
    return " ".join(capsys.readouterr().err.split())


def test_restart_without_rolling_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = commands.restart(state_dir=tmp_path / "state")
    assert code == 2
    assert "restart: error: restart needs --rolling" in _err(capsys)
    assert not (tmp_path / "state").exists()


def test_restart_of_a_state_dir_never_deployed_says_to_deploy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["restart", "--rolling", "--state-dir", str(tmp_path / "state")])
    assert code == 1
    err = _err(capsys)
    assert f"no stack is deployed in {tmp_path / 'state'}: run `invoke deploy`" in err
    assert "Traceback" not in err
    assert not (tmp_path / "state").exists()
