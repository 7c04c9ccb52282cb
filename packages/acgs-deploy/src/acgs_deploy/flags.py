"""The commands' flag values, checked before any work. invoke passes every value as a string
(Python callers may pass numbers); a value that does not fit is a `UsageError` naming the flag.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from acgs_deploy.errors import UsageError

__all__ = [
    "FORMATS",
    "LOWEST",
    "TOPOLOGIES",
    "demo",
    "number",
    "output_format",
    "timestamp",
    "topology",
    "whole",
]

# Flag -> (its lowest value, whether that value itself is allowed); absent: no bound here.
LOWEST: dict[str, tuple[float, bool]] = {
    "--users": (1, True),
    "--duration": (0, False),
    "--think": (0, True),
    "--detection-trials": (0, True),
    "--quiet-window": (0, False),
    "--dashboard-runs": (1, True),
    "--window": (0, False),
    "--hours": (0, False),
    "--seed": (0, True),
}
FORMATS = ("text", "json")
TOPOLOGIES = ("single", "ha")


def whole(flag: str, value: object) -> int:
    """`value` as a whole number within the flag's bound."""
    return int(_checked(flag, value, int))


def number(flag: str, value: object) -> float:
    """`value` as a finite number within the flag's bound."""
    return float(_checked(flag, value, float))


def _checked(flag: str, value: object, kind: type[int] | type[float]) -> float:
    lowest, inclusive = LOWEST.get(flag, (-math.inf, True))
    what = "a whole number" if kind is int else "a number"
    bound = f" {'>=' if inclusive else '>'} {lowest:g}" if flag in LOWEST else ""
    try:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ValueError
        converted: float = kind(value)
    except ValueError:
        converted = math.nan
    if not math.isfinite(converted) or (converted < lowest if inclusive else converted <= lowest):
        raise UsageError(f"{flag} must be {what}{bound}, got {value!r}")
    return converted


def timestamp(flag: str, value: str) -> float:
    """A time given as RFC 3339 (2026-12-01T00:00:00Z) or Unix seconds."""
    try:
        return float(value)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"{flag} {value!r}: give a time as RFC 3339 (2026-12-01T00:00:00Z) or Unix seconds"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def output_format(value: str) -> str:
    if value not in FORMATS:
        raise UsageError(f"--format must be {' or '.join(FORMATS)}, got {value!r}")
    return value


def demo(demo: bool, no_demo: bool) -> bool | None:
    """--demo and --no-demo as one choice; neither: None (as the last deploy did)."""
    if demo and no_demo:
        raise UsageError("--demo and --no-demo exclude each other: give one")
    return True if demo else (False if no_demo else None)


def topology(value: str | None) -> str | None:
    """--topology: single or ha; None when not given (the settings', else the last deploy's)."""
    if value is not None and value not in TOPOLOGIES:
        raise UsageError(f"--topology must be {' or '.join(TOPOLOGIES)}, got {value!r}")
    return value
