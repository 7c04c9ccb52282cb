"""Bounded input: dashboard and rule files over ``--max-file-size`` are refused with one
error finding each (exit 1), the other files are still linted; a raised limit lets them in."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from acgs_dashboards.cli import main
from acgs_dashboards.lint import LintOptions, lint_paths
from acgs_promql.limits import DEFAULT_MAX_FILE_SIZE


def board(panels: int, uid: str) -> dict[str, Any]:
    panel = {
        "type": "timeseries",
        "title": "Sessions",
        "datasource": {"type": "prometheus", "uid": "acgs-prometheus"},
        "targets": [{"refId": "A", "expr": "acgs_active_sessions"}],
    }
    return {
        "uid": uid,
        "title": uid,
        "panels": [dict(panel, id=i + 1, title=f"p{i}") for i in range(panels)],
    }


@pytest.fixture
def big_and_small(tmp_path: Path) -> tuple[Path, Path]:
    big, small = tmp_path / "big.json", tmp_path / "small.json"
    big.write_text(json.dumps(board(200, "big"), indent=2))  # about 60 KB
    small.write_text(json.dumps(board(1, "small"), indent=2))
    return big, small


def findings_of(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    findings: list[dict[str, Any]] = json.loads(capsys.readouterr().out)["findings"]
    return findings


def test_a_dashboard_over_the_limit_is_one_error_and_the_others_are_linted(
    big_and_small: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    big, small = big_and_small
    args = ["lint", str(big), str(small), "--rules", str(small.parent), "--format", "json"]
    assert main([*args, "--max-file-size", "10KB"]) == 1
    findings = findings_of(capsys)
    (refused,) = [f for f in findings if f["file"] == str(big)]
    assert (refused["check"], refused["severity"], refused["line"]) == (
        "dashboard/load",
        "error",
        0,
    )
    assert f"({big.stat().st_size} bytes)" in refused["message"]
    assert "over the 9.8 KiB limit" in refused["message"]
    assert "--max-file-size" in refused["message"]
    # small.json was linted: its panel has no description (a warning the big one would share).
    assert any(f["file"] == str(small) for f in findings)


def test_a_raised_limit_lets_the_dashboard_through(
    big_and_small: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    big, small = big_and_small
    args = ["lint", str(big), "--rules", str(small.parent), "--format", "json"]
    main([*args, "--max-file-size", "1MiB"])
    findings = findings_of(capsys)
    assert not [f for f in findings if f["check"] == "dashboard/load"]
    assert any(f["file"] == str(big) and f["line"] > 1 for f in findings)


def test_rule_files_over_the_limit_are_refused_too(
    tmp_path: Path, big_and_small: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, small = big_and_small
    rules = tmp_path / "rules.yml"
    rules.write_text("groups:\n  - name: g\n    rules:\n" + "      - record: a:b\n" * 2000)
    args = ["lint", str(small), "--rules", str(rules), "--format", "json"]
    assert main([*args, "--max-file-size", "10KB"]) == 1
    assert [(f["file"], f["check"]) for f in findings_of(capsys) if f["severity"] == "error"] == [
        (str(rules), "rules/load")
    ]


def test_the_default_limit_is_5_mib(big_and_small: tuple[Path, Path]) -> None:
    assert LintOptions().max_file_size == DEFAULT_MAX_FILE_SIZE == 5 * 1024 * 1024
    big, _ = big_and_small
    tight = lint_paths([big], LintOptions(max_file_size=1000))
    assert [f.check for f in tight.errors] == ["dashboard/load"]
    assert tight.dashboards == 0
