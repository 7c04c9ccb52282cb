"""Flag values as invoke passes them (strings) or Python does (numbers), checked and converted."""

from __future__ import annotations

import pytest

from acgs_deploy import flags
from acgs_deploy.errors import UsageError


def test_flags_from_invoke_become_numbers() -> None:
    assert flags.whole("--users", "20") == 20
    assert flags.number("--duration", "2.5") == 2.5
    assert flags.number("--think", 0) == 0.0
    assert flags.whole("--detection-trials", "0") == 0
    assert flags.whole("--keep-last", "-3") == -3  # no bound here: retention checks its own


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--users", True, "--users must be a whole number >= 1, got True"),
        ("--duration", "inf", "--duration must be a number > 0, got 'inf'"),
        ("--duration", "0", "--duration must be a number > 0, got '0'"),
        ("--window", None, "--window must be a number > 0, got None"),
        ("--keep-days", "soon", "--keep-days must be a number, got 'soon'"),
    ],
)
def test_a_value_that_does_not_fit_names_the_flag(flag: str, value: object, message: str) -> None:
    convert = flags.number if flag != "--users" else flags.whole
    with pytest.raises(UsageError) as caught:
        convert(flag, value)
    assert str(caught.value) == message


def test_format_and_demo_choices() -> None:
    assert flags.output_format("json") == "json"
    with pytest.raises(UsageError, match="--format must be text or json, got 'xml'"):
        flags.output_format("xml")
    assert flags.demo(True, False) is True
    assert flags.demo(False, True) is False
    assert flags.demo(False, False) is None
    with pytest.raises(UsageError, match="exclude each other"):
        flags.demo(True, True)
