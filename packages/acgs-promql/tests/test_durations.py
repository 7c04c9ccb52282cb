"""Durations: one parser and one formatter, as Prometheus writes them."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from acgs_promql.durations import format_duration, parse_duration


def test_format_like_prometheus() -> None:
    cases = {
        0: "0s",
        0.25: "250ms",
        1.5: "1s500ms",
        90: "1m30s",
        90061: "1d1h1m1s",
        7 * 86400: "1w",
        365 * 86400 + 86400: "1y1d",
        0.0001: "1ms",  # never "0s" for a positive window: [0s] does not parse
    }
    assert {seconds: format_duration(seconds) for seconds in cases} == cases


@settings(deadline=None)  # no timed assertion: a busy machine is slow
@given(st.integers(min_value=1, max_value=10**12))
def test_format_and_parse_round_trip(millis: int) -> None:
    assert parse_duration(format_duration(millis / 1000)) == millis / 1000
