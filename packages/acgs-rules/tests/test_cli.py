"""The acgs-rules command: output formats and exit codes, run as a real process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

GOOD = """\
groups:
  - name: g
    rules:
      - alert: Down
        expr: up == 0
        for: 1m
        labels: {severity: warning}
        annotations: {summary: s, description: d, runbook_url: https://example.org/r}
"""


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "acgs_rules.cli", *args], capture_output=True, text=True, check=False
    )


def test_clean_file_exits_zero(tmp_path: Path) -> None:
    path = tmp_path / "rules.yml"
    path.write_text(GOOD)
    result = run("lint", str(path), "--disable", "alert/test-coverage")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 error(s)" in result.stdout


def test_errors_exit_one_with_json(tmp_path: Path) -> None:
    path = tmp_path / "rules.yml"
    path.write_text(GOOD.replace("up == 0", "rate(up)"))
    result = run("lint", str(path), "--format", "json")
    assert result.returncode == 1
    payload = json.loads(result.stdout)
    assert payload["summary"]["errors"] >= 2
    checks = {f["check"] for f in payload["findings"]}
    assert {"promql/syntax", "promtool/check"} <= checks
    first = next(f for f in payload["findings"] if f["check"] == "promql/syntax")
    assert set(first) == {"file", "line", "rule", "check", "severity", "message"}
    assert (first["line"], first["rule"], first["severity"]) == (5, "Down", "error")
    from_promtool = next(f for f in payload["findings"] if f["check"] == "promtool/check")
    assert (from_promtool["line"], from_promtool["rule"]) == (5, "Down")
    assert "range vector" in from_promtool["message"]


def test_text_output_names_file_line_check_and_rule(tmp_path: Path) -> None:
    path = tmp_path / "rules.yml"
    path.write_text(GOOD.replace("up == 0", "acgs_metrics_cardinality_overflow_total > 0"))
    result = run("lint", str(path), "--no-promtool")
    assert result.returncode == 1
    assert f"{path}:5: error [promql/counter] Down: counter" in result.stdout


def test_bad_settings_and_unknown_check_exit_two(tmp_path: Path) -> None:
    path = tmp_path / "rules.yml"
    path.write_text(GOOD)
    settings = tmp_path / "settings.yml"
    settings.write_text("scrape_interval: often\n")
    result = run("lint", str(path), "--settings", str(settings))
    assert result.returncode == 2
    assert "settings.yml: invalid settings" in result.stderr
    assert "Traceback" not in result.stderr
    assert run("lint", str(path), "--disable", "no/such-check").returncode == 2


@pytest.mark.parametrize(
    ("settings_text", "field", "fragment"),
    [
        ('scrape_intervals: {"acgs_(.*": 5s}\n', "scrape_intervals", "invalid regex 'acgs_(.*'"),
        ('job_scrape_intervals: {"[acgs": 5s}\n', "job_scrape_intervals", "invalid regex"),
        ('extra_metrics: ["myapp_*(" ]\n', "extra_metrics", "invalid regex"),
        ("disabled_checks: [promql/sytnax]\n", "disabled_checks", "promql/sytnax"),
        ("severity_overrides: {no/such: warning}\n", "severity_overrides", "no/such"),
    ],
)
def test_bad_settings_fields_are_named_without_a_traceback(
    tmp_path: Path, settings_text: str, field: str, fragment: str
) -> None:
    path = tmp_path / "rules.yml"
    path.write_text(GOOD)
    settings = tmp_path / "settings.yml"
    settings.write_text(settings_text)
    result = run("lint", str(path), "--no-promtool", "--settings", str(settings))
    assert result.returncode == 2, result.stdout
    assert f"settings.yml: invalid settings: {field}" in result.stderr
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr
    assert "internal error" not in result.stdout


def test_checks_command_lists_every_check() -> None:
    result = run("checks")
    assert result.returncode == 0
    for name in ("promql/syntax", "alert/routing", "promtool/check", "alert/detection-latency"):
        assert name in result.stdout
