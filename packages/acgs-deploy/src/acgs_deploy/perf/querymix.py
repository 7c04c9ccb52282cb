"""The query mix of the load test: the panel queries of the real dashboards, as Grafana sends them.

A Grafana panel target with `instant: true` becomes `GET /api/v1/query`; otherwise (Grafana's
default) `GET /api/v1/query_range` over the dashboard's time range with the panel's step.
Template variables are replaced the way Grafana does for an "All" selection (a regex that
matches everything) and its built-in `$__rate_interval` / `$__interval` / `$__range`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

# Grafana: max(4 * scrape interval, interval + scrape interval); 15 s scrape interval here.
RATE_INTERVAL = "1m"
# Grafana aims at about this many points per range-query series (the panel width in pixels).
POINTS_PER_PANEL = 1000
MIN_STEP_S = 15


@dataclass(frozen=True)
class QueryRequest:
    """One HTTP request a dashboard panel makes against the Prometheus API."""

    kind: Literal["instant", "range"]
    expr: str
    range_s: float = 3600.0
    source: str = ""

    @property
    def path(self) -> str:
        return "/api/v1/query" if self.kind == "instant" else "/api/v1/query_range"

    @property
    def step_s(self) -> int:
        return max(MIN_STEP_S, int(self.range_s // POINTS_PER_PANEL))

    def params(self, now: float) -> dict[str, str]:
        if self.kind == "instant":
            return {"query": self.expr, "time": f"{now:.3f}"}
        return {
            "query": self.expr,
            "start": f"{now - self.range_s:.3f}",
            "end": f"{now:.3f}",
            "step": str(self.step_s),
        }


def _duration_s(text: str) -> float:
    """Grafana's relative time ('now-6h', '1h', '30m') in seconds."""
    match = re.fullmatch(r"(?:now-)?(\d+)([smhdw])", text.strip())
    if not match:
        raise ValueError(f"unsupported dashboard time {text!r} (expected e.g. 'now-1h')")
    factor = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[match.group(2)]
    return float(int(match.group(1)) * factor)


def _panels(panels: Iterable[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    for panel in panels:
        yield panel
        # Collapsed rows keep their panels inside the row.
        yield from _panels(panel.get("panels", []))


def _variables(dashboard: Mapping[str, Any]) -> dict[str, str]:
    """Each template variable as Grafana expands an 'All' (or multi-value) selection."""
    values: dict[str, str] = {}
    for variable in dashboard.get("templating", {}).get("list", []):
        name = variable.get("name")
        if not name:
            continue
        current = variable.get("current", {}).get("value")
        if isinstance(current, str) and current and current != "$__all":
            values[name] = current
        else:
            values[name] = ".*"
    return values


def _expand(expr: str, variables: Mapping[str, str], range_s: float) -> str:
    builtins = {
        "__rate_interval": RATE_INTERVAL,
        "__interval": f"{max(MIN_STEP_S, int(range_s // POINTS_PER_PANEL))}s",
        "__range": f"{int(range_s)}s",
    }
    table = {**variables, **builtins}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(3)
        return table.get(name, match.group(0))

    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)", replace, expr)


def dashboard_requests(dashboard: Mapping[str, Any]) -> list[QueryRequest]:
    """Every Prometheus request the dashboard's panels make on load, in panel order."""
    range_s = _duration_s(dashboard.get("time", {}).get("from", "now-1h"))
    variables = _variables(dashboard)
    title = dashboard.get("title", "dashboard")
    requests = []
    for panel in _panels(dashboard.get("panels", [])):
        for target in panel.get("targets", []):
            expr = target.get("expr")
            if not expr or target.get("hide"):
                continue
            kind: Literal["instant", "range"] = "instant" if target.get("instant") else "range"
            requests.append(
                QueryRequest(
                    kind=kind,
                    expr=_expand(expr, variables, range_s),
                    range_s=range_s,
                    source=f"{title} / {panel.get('title', panel.get('id', '?'))}",
                )
            )
    return requests


def query_mix(dashboards: Iterable[Mapping[str, Any]]) -> list[QueryRequest]:
    """The load test's mix: all panel requests of all dashboards, each once."""
    mix = [request for dashboard in dashboards for request in dashboard_requests(dashboard)]
    if not mix:
        raise ValueError("the dashboards hold no Prometheus panel queries: nothing to load-test")
    return mix
