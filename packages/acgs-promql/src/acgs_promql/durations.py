"""PromQL durations (``1h30m``, ``250ms``): the one parser and formatter both linters use."""

from __future__ import annotations

import math
import re

__all__ = ["DURATION", "format_duration", "parse_duration"]

# Milliseconds per unit: whole numbers, so sums are exact.
_UNIT_MS = {
    "y": 365 * 86_400_000,
    "w": 7 * 86_400_000,
    "d": 86_400_000,
    "h": 3_600_000,
    "m": 60_000,
    "s": 1000,
    "ms": 1,
}
# A duration as the lexer reads it: units in any order (parse_duration checks the order).
DURATION = re.compile(r"(?:[0-9]+(?:ms|[smhdwy]))+")
_PART = re.compile(r"([0-9]+)(ms|[smhdwy])")


def parse_duration(text: str) -> float:
    """``1h30m`` -> 5400.0. Raises ValueError for anything else (units in descending order)."""
    if not DURATION.fullmatch(text):
        raise ValueError(f"not a duration: {text!r} (use e.g. 30s, 5m, 1h30m)")
    total = 0
    last = math.inf
    for amount, unit in _PART.findall(text):
        size = _UNIT_MS[unit]
        if size >= last:
            raise ValueError(f"not a duration: {text!r} (units must go from largest to smallest)")
        last = size
        total += int(amount) * size
    return total / 1000


def format_duration(seconds: float) -> str:
    """5400 -> ``1h30m``, as Prometheus writes durations (y, w, d, h, m, s, ms); 0 -> ``0s``.

    A positive duration under a millisecond is ``1ms``: ``[0s]`` is not a valid range.
    """
    if seconds <= 0:
        return "0s"
    millis = max(1, round(seconds * 1000))
    parts = []
    for unit, size in _UNIT_MS.items():
        if millis >= size:
            parts.append(f"{millis // size}{unit}")
            millis %= size
    return "".join(parts)
