"""Bounded input: files over the size limit are refused with one finding, the others are
linted; 1,000 rules lint within the issue's memory bound (measured in a child process)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from acgs_promql.findings import Severity
from acgs_promql.limits import DEFAULT_MAX_FILE_SIZE, parse_size
from acgs_rules.lint import lint
from acgs_rules.loader import load
from acgs_rules.promtool import check_rules
from acgs_rules.settings import LintSettings, SettingsError
from acgs_testkit.benchmarks import measure_module

RULE = """\
      - alert: Bench{n}
        expr: sum by (service) (rate(acgs_http_requests_total{{status_code=~"5.."}}[1m])) > {n}
        for: 1m
        labels: {{severity: warning}}
        annotations: {{summary: s, description: d, runbook_url: https://example.org/r}}
"""


def rule_file(count: int, group_size: int = 50) -> str:
    parts = ["groups:\n"]
    for n in range(count):
        if n % group_size == 0:
            parts.append(f"  - name: g{n}\n    rules:\n")
        parts.append(RULE.format(n=n))
    return "".join(parts)


@pytest.fixture
def big_and_small(tmp_path: Path) -> tuple[Path, Path]:
    big, small = tmp_path / "big.yml", tmp_path / "small.yml"
    big.write_text(rule_file(200))  # about 60 KB
    small.write_text(rule_file(1))
    return big, small


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "acgs_rules.cli", "lint", "--no-promtool", *args]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def test_a_file_over_the_limit_is_one_error_and_the_others_are_linted(
    big_and_small: tuple[Path, Path],
) -> None:
    big, small = big_and_small
    result = run_cli(str(big), str(small), "--max-file-size", "10KB", "--format", "json")
    assert result.returncode == 1, result.stderr
    payload = json.loads(result.stdout)
    refused = [f for f in payload["findings"] if f["file"] == str(big)]
    assert len(refused) == 1
    message = refused[0]["message"]
    assert (refused[0]["check"], refused[0]["severity"]) == ("yaml/syntax", "error")
    size = big.stat().st_size
    assert f"({size} bytes)" in message
    assert "over the 9.8 KiB limit" in message
    assert "--max-file-size" in message
    assert "max_file_size in the settings" in message
    assert payload["summary"]["rules"] == 1  # small.yml was still read and linted
    assert any(f["file"] == str(small) for f in payload["findings"])


def test_a_raised_limit_lets_the_file_through(big_and_small: tuple[Path, Path]) -> None:
    big, _ = big_and_small
    result = run_cli(str(big), "--max-file-size", "1MiB", "--format", "json")
    payload = json.loads(result.stdout)
    assert payload["summary"]["rules"] == 200
    assert not [f for f in payload["findings"] if f["check"] == "yaml/syntax"]


def test_the_settings_file_sets_the_limit_and_the_flag_overrides_it(
    tmp_path: Path, big_and_small: tuple[Path, Path]
) -> None:
    big, _ = big_and_small
    settings = tmp_path / "acgs-rules.yml"
    settings.write_text("max_file_size: 10KB\n")
    refused = lint([big], LintSettings.from_file(settings), promtool=False)
    assert refused.rules == 0
    assert [f.check for f in refused.errors] == ["yaml/syntax"]
    flagged = run_cli(
        str(big), "--settings", str(settings), "--max-file-size", "1MiB", "--format", "json"
    )
    assert json.loads(flagged.stdout)["summary"]["rules"] == 200


def test_the_default_limit_is_5_mib_and_bad_sizes_are_refused(tmp_path: Path) -> None:
    assert LintSettings().max_file_size == DEFAULT_MAX_FILE_SIZE == parse_size("5MiB")
    settings = tmp_path / "acgs-rules.yml"
    settings.write_text("max_file_size: lots\n")
    with pytest.raises(SettingsError, match=r"max_file_size: .*'lots' is not a size"):
        LintSettings.from_file(settings)
    result = run_cli(str(settings), "--max-file-size", "0")
    assert result.returncode == 2
    assert "--max-file-size" in result.stderr


def test_1000_rules_stay_under_150_mb(tmp_path: Path) -> None:
    """The issue's bound (peak RSS of the whole lint process, interpreter included); a
    generous ceiling, not a timing: bench_lint.py prints the measured peak."""
    path = tmp_path / "rules.yml"
    path.write_text(rule_file(1000))
    run = measure_module("acgs_rules.cli", "lint", "--no-promtool", "--format", "json", str(path))
    assert json.loads(run.stdout)["summary"]["rules"] == 1000
    assert run.peak_rss_mib < 150


def test_promtool_that_does_not_finish_in_time_is_a_finding_not_a_traceback(
    big_and_small: tuple[Path, Path],
) -> None:
    """promtool took over 120 s on a 1.5 MB expression; the linter then died in
    subprocess.TimeoutExpired. A timeout far below promtool's start-up shows the path."""
    _, small = big_and_small
    loaded = load([small])
    (finding,) = check_rules(loaded.rule_files, timeout=1e-6)
    assert (finding.path, finding.check, finding.severity) == (
        str(small),
        "promtool/check",
        Severity.ERROR,
    )
    assert "did not finish within 1e-06 s" in finding.message
