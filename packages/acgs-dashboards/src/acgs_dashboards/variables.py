"""Grafana template variables: expand ``$var``, ``${var:format}``, ``[[var]]`` and built-ins.

Follows what Grafana's Prometheus datasource does when it sends a query: a multi-value or
"All" variable becomes a regex alternation of escaped values, ``(a|b|c)``; a single value is
inserted as is; ``$__interval``, ``$__rate_interval`` and ``$__range`` become durations.
Unknown variables are left untouched, as Grafana leaves them (the query then fails to parse,
which is what the linter reports).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from acgs_promql.durations import format_duration

__all__ = [
    "VARIABLE_PATTERN",
    "Scope",
    "interpolate",
    "rate_interval",
    "variable_names",
]

# Grafana's own pattern: $var, [[var]] / [[var:fmt]], ${var} / ${var.field} / ${var:fmt}.
VARIABLE_PATTERN = re.compile(
    r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}"
)
# Escaped for a regex inside a PromQL string: the backslash itself doubled (Grafana does so).
_REGEX_SPECIAL = re.compile(r"([$^*+?.()|{}\[\]'])")


def variable_names(text: str) -> list[str]:
    """Names of the variables ``text`` refers to, in order, built-ins included."""
    return [next(g for g in m.groups() if g) for m in VARIABLE_PATTERN.finditer(text)]


def rate_interval(interval_s: float, scrape_interval_s: float) -> float:
    """Grafana's ``$__rate_interval``: max(interval + scrape interval, 4 x scrape interval)."""
    return max(interval_s + scrape_interval_s, 4 * scrape_interval_s)


@dataclass
class Scope:
    """What each variable stands for when a query is sent.

    ``values`` maps a variable to its values; a variable in ``multi`` (multi-value or All)
    is written as a regex alternation when it has more than one value, as Grafana does.
    """

    values: Mapping[str, Sequence[str]] = field(default_factory=dict)
    multi: frozenset[str] = frozenset()
    interval_s: float = 60.0
    scrape_interval_s: float = 15.0
    range_s: float = 3600.0
    end_s: float = 0.0  # the range's end, epoch seconds ($__to)

    def builtins(self) -> dict[str, str]:
        interval = self.interval_s
        rate = rate_interval(interval, self.scrape_interval_s)
        start = self.end_s - self.range_s
        return {
            "__from": str(round(start * 1000)),
            "__to": str(round(self.end_s * 1000)),
            "__dashboard": "dashboard",
            "__org": "1",
            "__user": "user",
            "__interval": format_duration(interval),
            "__interval_ms": str(round(interval * 1000)),
            "__rate_interval": format_duration(rate),
            "__rate_interval_ms": str(round(rate * 1000)),
            "__range": format_duration(self.range_s),
            "__range_s": str(math.floor(self.range_s)),
            "__range_ms": str(round(self.range_s * 1000)),
            "__auto": format_duration(interval),
        }


def _format(values: Sequence[str], fmt: str | None, multi: bool) -> str:
    if fmt in (None, "regex") and (multi or fmt == "regex"):
        escaped = [_REGEX_SPECIAL.sub(r"\\\\\1", v.replace("\\", "\\\\\\\\")) for v in values]
        return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"
    if fmt == "pipe":
        return "|".join(values)
    if fmt == "json":
        return json.dumps(list(values))
    if fmt == "singlequote":
        return ",".join("'" + v.replace("'", "\\'") + "'" for v in values)
    if fmt == "doublequote":
        return ",".join('"' + v.replace('"', '\\"') + '"' for v in values)
    # csv, raw, text, or no format on a single-value variable.
    return ",".join(values)


def interpolate(text: str, scope: Scope) -> str:
    """``text`` with every known variable replaced; unknown ones stay as written."""
    builtins = scope.builtins()

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(4)
        fmt = match.group(3) or match.group(6)
        if name in builtins:
            if name in {"__from", "__to"} and fmt and "seconds" in fmt:
                return str(int(builtins[name]) // 1000)  # ${__to:date:seconds}
            return builtins[name]
        values = scope.values.get(name)
        if values is None:
            return match.group(0)
        return _format(list(values), fmt, name in scope.multi)

    return VARIABLE_PATTERN.sub(replace, text)
