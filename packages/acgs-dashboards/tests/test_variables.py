"""Variable expansion: multi-value regexes select exactly the chosen values."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from acgs_dashboards.variables import Scope, interpolate, rate_interval
from acgs_promql.durations import format_duration
from acgs_promql.parser import parse

# Label values as they come: anything printable but the string's own quote.
VALUES = st.lists(
    st.text(
        st.characters(min_codepoint=32, max_codepoint=126, blacklist_characters='"'), min_size=1
    ),
    min_size=1,
    max_size=5,
    unique=True,
)


def _unquote(text: str) -> str:
    """What Prometheus makes of the inside of a double-quoted string."""
    return re.sub(r"\\(.)", lambda m: m.group(1) if m.group(1) in '\\"' else m.group(0), text)


@settings(deadline=None)  # no timed assertion: a busy machine is slow
@given(VALUES)
def test_multi_value_regex_matches_exactly_the_values(values: list[str]) -> None:
    scope = Scope(values={"v": values}, multi=frozenset({"v"}))
    query = interpolate('up{x=~"$v"}', scope)
    matcher = parse(query).matchers[1]  # type: ignore[attr-defined]
    pattern = re.compile(_unquote(query[query.index('"') + 1 : query.rindex('"')]))
    assert matcher.value == pattern.pattern
    assert all(pattern.fullmatch(v) for v in values)
    assert not any(pattern.fullmatch(v + "x") for v in values if v + "x" not in values)


def test_durations_and_rate_interval() -> None:
    assert [format_duration(s) for s in (0.25, 15, 90, 3600, 90061)] == [
        "250ms",
        "15s",
        "1m30s",
        "1h",
        "1d1h1m1s",
    ]
    assert rate_interval(5, 15) == 60  # four scrapes at least
    assert rate_interval(120, 15) == 135
    # Expansions use Prometheus' own duration format (acgs_promql.durations): weeks, and
    # milliseconds after the seconds rather than alone.
    builtins = Scope(interval_s=1.5, range_s=7 * 86400).builtins()
    assert (builtins["__range"], builtins["__interval"]) == ("1w", "1s500ms")
