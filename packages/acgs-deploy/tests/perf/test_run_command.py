"""The tasks' entry point: flags are checked before any work, problems are one clear line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from acgs_deploy.perf.loadgen import LoadResult
from acgs_deploy.perf.run import generator_check, parse_options, run_command

REPO_ROOT = Path(__file__).resolve().parents[4]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"users": "0"}, "--users must be a whole number >= 1, got '0'"),
        ({"users": "ten"}, "--users must be a whole number >= 1, got 'ten'"),
        ({"duration_s": "abc"}, "--duration must be a number > 0, got 'abc'"),
        ({"duration_s": "nan"}, "--duration must be a number > 0"),
        ({"think_s": "-1"}, "--think must be a number >= 0"),
        ({"detection_trials": "1.5"}, "--detection-trials must be a whole number >= 0"),
        ({"overhead_window_s": "0"}, "--quiet-window must be a number > 0"),
    ],
)
def test_a_bad_flag_fails_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: dict[str, str], message: str
) -> None:
    # No stack in the state directory: a check made after any work would complain about that.
    report = tmp_path / "report"
    code = run_command("perf", state_dir=tmp_path / "nothing", report_dir=report, **options)
    err = capsys.readouterr().err
    assert code == 2
    assert message in " ".join(err.split())
    assert "Traceback" not in err
    assert not report.exists()


def test_report_naming_a_file_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    existing = tmp_path / "taken"
    existing.write_text("keep me")
    code = run_command("perf", state_dir=tmp_path / "nothing", report_dir=str(existing))
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2
    assert f"--report {existing} is a file" in err
    assert existing.read_text() == "keep me"


def test_other_commands_check_their_flags(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_command("overhead", window_s="-3") == 2
    assert run_command("alerts-report", hours="x") == 2
    assert run_command("health", output_format="xml") == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "--window must be a number > 0, got '-3'" in err
    assert "--hours must be a number > 0, got 'x'" in err
    assert "--format must be text or json, got 'xml'" in err


def test_flags_from_invoke_become_numbers() -> None:
    parsed = parse_options(
        {"users": "20", "duration_s": "2.5", "hours": "2", "report_dir": "out", "think_s": 0}
    )
    assert parsed == {
        "users": 20,
        "duration_s": 2.5,
        "window_s": 7200.0,
        "report_dir": Path("out"),
        "think_s": 0,
    }


def test_invoke_passes_a_bad_number_through_without_a_traceback() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "invoke", "--search-root", str(REPO_ROOT), "perf",
         "--duration", "abc"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "--duration must be a number > 0, got 'abc'" in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr


def _load(cpu_s: float, duration_s: float = 10.0) -> LoadResult:
    return LoadResult(users=100, duration_s=duration_s, samples=[], cpu_s=cpu_s, cpu_count=2)


def test_a_saturated_load_generator_invalidates_the_run() -> None:
    busy = generator_check(_load(cpu_s=9.0))
    assert busy.passed is False
    assert busy.name == "load generator saturated"
    assert "90% of a core" in busy.measured
    idle = generator_check(_load(cpu_s=3.0))
    assert idle.passed is True
    assert "30% of a core" in idle.measured
