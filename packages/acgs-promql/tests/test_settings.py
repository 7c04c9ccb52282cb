"""acgs-lint.yml: shared fields, one section per linter, paths relative to the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from acgs_promql.settings import SettingsFileError, default_settings_file, read_section

FILE = """\
extra_metrics: ["shop_.*"]
source: [service/]
disabled_checks: [promql/range-window]
severity_overrides: {promql/unknown-metric: error}
scrape_interval: 30s   # the rule linter's, at the top level (older flat form)
rules:
  disabled_checks: [alert/for]
  severity_overrides: {alert/runbook: warning}
dashboards:
  rules: [rules/]
  source: [more/]
"""


def test_sections_merge_with_the_shared_fields(tmp_path: Path) -> None:
    path = tmp_path / "acgs-lint.yml"
    path.write_text(FILE)
    rules = read_section(path, "rules", own_top_level=True)
    assert rules["disabled_checks"] == ["promql/range-window", "alert/for"]
    assert rules["severity_overrides"] == {
        "promql/unknown-metric": "error",
        "alert/runbook": "warning",
    }
    assert rules["scrape_interval"] == "30s"
    assert rules["source"] == [str(tmp_path / "service")]
    dashboards = read_section(path, "dashboards", own_top_level=False)
    assert "scrape_interval" not in dashboards  # the rule linter's
    assert dashboards["source"] == [str(tmp_path / "service"), str(tmp_path / "more")]
    assert dashboards["rules"] == [str(tmp_path / "rules")]
    assert dashboards["extra_metrics"] == ["shop_.*"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- a list\n", "must be a mapping"),
        ("rules: [x]\n", "'rules' must be a mapping"),
        ("a: [\n", ":2: cannot read settings"),
    ],
)
def test_bad_files_are_one_line_errors(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "acgs-lint.yml"
    path.write_text(text)
    with pytest.raises(SettingsFileError, match=expected) as caught:
        read_section(path, "rules", own_top_level=True)
    assert "\n" not in str(caught.value)


def test_the_default_file_is_in_the_current_directory_only(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "acgs-lint.yml").write_text("{}\n")
    assert default_settings_file(tmp_path) == tmp_path / "acgs-lint.yml"
    assert default_settings_file(tmp_path / "sub") is None  # never searched for upwards
