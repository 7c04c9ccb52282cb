"""find_repo_root: the nearest folder holding .git, else the current directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from acgs_promql.repository import find_repo_root


def test_the_nearest_git_folder_above_a_file_or_folder(tmp_path: Path) -> None:
    outer, inner = tmp_path / "outer", tmp_path / "outer" / "vendor" / "inner"
    (outer / ".git").mkdir(parents=True)
    (inner / "rules").mkdir(parents=True)
    (inner / ".git").write_text("gitdir: ../../.git/modules/inner\n")  # a submodule
    (outer / "rules.yml").write_text("groups: []\n")
    assert find_repo_root(inner / "rules") == inner.resolve()
    assert find_repo_root(outer / "rules.yml") == outer.resolve()


def test_without_git_the_current_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "work"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    (tmp_path / "copy" / "rules").mkdir(parents=True)
    assert find_repo_root(tmp_path / "copy" / "rules") == elsewhere
