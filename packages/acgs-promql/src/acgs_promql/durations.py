"""PromQL durations (``1h30m``, ``250ms``): the one parser and formatter both linters use."""

from __future__ import annotations

import math
import re

__all__ = ["DURATION", "format_duration", "parse_duration"]

_UNIT_SECONDS = {
    "y": 365 * 86400,
    "w": 7 * 86400,
    "d": 86400,
    "h": 3600,
    "m": 60,
    "s": 1,
    "ms": 0.001,
}
# A duration as the lexer reads it: units in any order (parse_duration checks the order).
DURATION = re.compile(r"(?:[0-9]+(?:ms|[smhdwy]))+")
_PART = re.compile(r"([0-9]+)(ms|[smhdwy])")


def parse_duration(text: str) -> float:
    """``1h30m`` -> 5400.0. Raises ValueError for anything else (units in descending order)."""
    if not DURATION.fullmatch(text):
        raise ValueError(f"not a duration: {text!r} (use e.g. 30s, 5m, 1h30m)")
    total = 0.0
    last = math.inf
    for amount, unit in _PART.findall(text):
        size = _UNIT_SECONDS[unit]
        if size >= last:
            raise ValueError(f"not a duration: {text!r} (units must go from largest to smallest)")
        last = size
        total += int(amount) * size
    return total


def format_duration(seconds: float) -> str:
    """5400 -> ``1h30m``, as Prometheus writes durations (y, w, d, h, m, s, ms); 0 -> ``0s``.

    A positive duration under a millisecond is ``1ms``: ``[0s]`` is not a valid range.
    """
    if seconds <= 0:
        return "0s"
    millis = max(1, round(seconds * 1000))
    parts = []
    for unit, size in _UNIT_SECONDS.items():
        size_ms = round(size * 1000)
        if millis >= size_ms:
            parts.append(f"{millis // size_ms}{unit}")
            millis %= size_ms
    return "".join(parts)
