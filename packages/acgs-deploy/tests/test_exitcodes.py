"""One table of user-facing error types and exit codes, one printer of the red error line."""

from __future__ import annotations

import pytest

from acgs_deploy.backup.restore import RestoreError
from acgs_deploy.client import APIRefused, APIUnreachable
from acgs_deploy.errors import DeployError, UsageError
from acgs_deploy.exitcodes import EXIT_CODES, STACK_DOWN_HINT, command, describe, exit_code
from acgs_deploy.settings import SettingsError


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (UsageError("--users must be ..."), 2),  # a ValueError too: the first match wins
        (SettingsError("bad port"), 1),
        (DeployError("not running"), 1),
        (APIRefused("401"), 1),
        (RestoreError("exited"), 1),
        (FileNotFoundError("gone"), 1),
        (KeyError("config"), 1),
        (RuntimeError("a bug"), None),
        (TypeError("a bug"), None),
    ],
)
def test_each_error_type_has_its_exit_code(error: Exception, code: int | None) -> None:
    assert exit_code(error) == code


def test_no_entry_is_shadowed_by_an_earlier_one() -> None:
    kinds = [kind for kind, _ in EXIT_CODES]
    for index, kind in enumerate(kinds):
        assert not any(issubclass(kind, earlier) for earlier in kinds[:index]), kind


def test_a_user_error_is_one_red_line_with_its_code(capsys: pytest.CaptureFixture[str]) -> None:
    @command
    def alerts_report(*, fail: Exception | None = None) -> int:
        if fail is not None:
            raise fail
        return 3

    assert alerts_report() == 3
    assert alerts_report(fail=UsageError("--hours must be a number > 0, got '[x]'")) == 2
    assert alerts_report(fail=APIUnreachable("Prometheus: GET https://[::1]:9090/: refused")) == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        "alerts-report: error: --hours must be a number > 0, got '[x]'",
        f"alerts-report: error: Prometheus: GET https://[::1]:9090/: refused: {STACK_DOWN_HINT}",
    ]
    with pytest.raises(RuntimeError, match="a bug"):
        alerts_report(fail=RuntimeError("a bug"))


def test_the_hint_is_only_for_a_stack_that_does_not_answer() -> None:
    assert describe(APIRefused("HTTP 400: parse error")) == "HTTP 400: parse error"
    assert describe(ConnectionRefusedError()) == f"ConnectionRefusedError: {STACK_DOWN_HINT}"
