"""Run a dashboard's queries against Prometheus the way Grafana does, and time them.

:func:`run_dashboard` takes a dashboard JSON dict and a configured ``httpx.Client`` (base
URL, TLS, auth) and returns each panel's latency and series count, and the total:

- the time range is the dashboard's default (``time.from``/``time.to``);
- template variables are resolved first, as on page load (``label_values``,
  ``query_result``, ``metrics``; custom, constant and interval variables from the JSON),
  and expanded to All: a multi-value or include-All variable stands for every value;
- each panel asks for ``maxDataPoints`` points (default: its width in pixels on a 1920 px
  screen); the interval is Grafana's rounded ``range / maxDataPoints``, never below the
  panel's min interval or the scrape interval; ``$__rate_interval`` follows from it;
- range queries go to ``/api/v1/query_range`` aligned to the step, instant ones to
  ``/api/v1/query``; panels repeated by a variable run once per value;
- panels in collapsed rows are skipped (Grafana runs them only when the row is opened);
- queries run concurrently (6 at a time, like a browser's connections per host).

``total_s`` is the wall-clock time from the first variable query to the last panel
answer: what a reader waits for the dashboard to be complete.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from acgs_dashboards.datasources import resolve
from acgs_dashboards.model import Dashboard, Panel, Target, Variable, parse_dashboard
from acgs_dashboards.variables import Scope, interpolate
from acgs_promql.durations import format_duration

__all__ = [
    "DashboardLoad",
    "PanelLoad",
    "QueryLoad",
    "QueryLoadError",
    "parse_time",
    "round_interval",
    "run_dashboard",
]

SCREEN_WIDTH_PX = 1920
GRID_COLUMNS = 24
# Prometheus refuses more than 11,000 points per series; Grafana raises the step to fit.
MAX_POINTS = 11_000
_RELATIVE = re.compile(r"^now(?:([+-])(\d+)([smhdwMy]))?(?:/([smhdwMy]))?$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "M": 2592000, "y": 31536000}
_MIN_INTERVAL = re.compile(r"^>?\s*(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)$")


class QueryLoadError(Exception):
    """The dashboard cannot be run (bad time range, unreachable Prometheus)."""


@dataclass(frozen=True)
class QueryLoad:
    ref_id: str
    expr: str
    latency_s: float
    series: int
    error: str | None = None


@dataclass(frozen=True)
class PanelLoad:
    panel_id: Any
    title: str
    latency_s: float  # the panel's queries run side by side: the slowest one
    series: int
    queries: tuple[QueryLoad, ...]

    @property
    def errors(self) -> list[str]:
        return [f"{q.ref_id}: {q.error}" for q in self.queries if q.error]


@dataclass(frozen=True)
class DashboardLoad:
    uid: str | None
    title: str
    start: float
    end: float
    variables_s: float
    total_s: float
    panels: tuple[PanelLoad, ...] = field(default=())
    variable_errors: tuple[str, ...] = ()

    @property
    def series(self) -> int:
        return sum(p.series for p in self.panels)

    @property
    def errors(self) -> list[str]:
        return [*self.variable_errors, *(f"{p.title}: {e}" for p in self.panels for e in p.errors)]

    def as_dict(self) -> dict[str, Any]:
        return {
            "uid": self.uid,
            "title": self.title,
            "start": self.start,
            "end": self.end,
            "variables_ms": round(self.variables_s * 1000, 1),
            "total_ms": round(self.total_s * 1000, 1),
            "series": self.series,
            "variable_errors": list(self.variable_errors),
            "panels": [
                {
                    "id": p.panel_id,
                    "title": p.title,
                    "latency_ms": round(p.latency_s * 1000, 1),
                    "series": p.series,
                    "queries": [
                        {
                            "refId": q.ref_id,
                            "expr": q.expr,
                            "latency_ms": round(q.latency_s * 1000, 1),
                            "series": q.series,
                            "error": q.error,
                        }
                        for q in p.queries
                    ],
                }
                for p in self.panels
            ],
        }


# --- time ---------------------------------------------------------------------------------


def parse_time(text: str, now: float) -> float:
    """A Grafana time (``now``, ``now-1h``, ``now/d``, epoch ms, ISO 8601) as epoch seconds."""
    text = text.strip()
    match = _RELATIVE.match(text)
    if match:
        sign, amount, unit, round_to = match.groups()
        value = now
        if amount:
            delta = int(amount) * _UNIT_S[unit]
            value = value - delta if sign == "-" else value + delta
        if round_to:
            size = _UNIT_S[round_to]
            value = math.floor(value / size) * size
        return value
    if text.isdigit():
        return int(text) / 1000
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise QueryLoadError(f"time {text!r} is neither relative (now-1h) nor absolute") from error
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


# Grafana's rangeutil.roundInterval: (upper bound ms, interval ms).
_ROUNDING = (
    (10, 1), (15, 10), (35, 20), (75, 50), (150, 100), (350, 200), (750, 500),
    (1500, 1000), (3500, 2000), (7500, 5000), (12500, 10000), (17500, 15000),
    (25000, 20000), (45000, 30000), (90000, 60000), (210000, 120000), (450000, 300000),
    (750000, 600000), (1050000, 900000), (1500000, 1200000), (2700000, 1800000),
    (5400000, 3600000), (9000000, 7200000), (16200000, 10800000), (32400000, 21600000),
    (86400000, 43200000), (604800000, 86400000), (1814400000, 604800000),
    (3628800000, 2592000000),
)  # fmt: skip


def round_interval(interval_s: float) -> float:
    """Grafana's rounding of ``range / maxDataPoints`` to a readable interval."""
    ms = interval_s * 1000
    for bound, rounded in _ROUNDING:
        if ms <= bound:
            return rounded / 1000
    return 31536000.0


def _min_interval(text: Any, scope_values: Mapping[str, Sequence[str]]) -> float | None:
    if not isinstance(text, str) or not text:
        return None
    text = interpolate(text, Scope(values=scope_values))
    match = _MIN_INTERVAL.match(text.strip())
    if not match:
        return None
    amount, unit = float(match.group(1)), match.group(2)
    return amount / 1000 if unit == "ms" else amount * _UNIT_S[unit]


# --- variables ----------------------------------------------------------------------------

_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?:(.+?)\s*,\s*)?([a-zA-Z_]\w*)\s*\)\s*$")
_METRICS = re.compile(r"^\s*metrics\(\s*(.*?)\s*\)\s*$")
_QUERY_RESULT = re.compile(r"^\s*query_result\(\s*(.+)\s*\)\s*$", re.S)
_LABEL_NAMES = re.compile(r"^\s*label_names\(\s*(.*?)\s*\)\s*$")


EXCERPT_CHARS = 200


def _body(response: httpx.Response) -> dict[str, Any]:
    """The JSON reply of Prometheus; an HTTP status and a body excerpt when it is not JSON
    (a 401 from the auth in front, a proxy's HTML error page)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        return body
    excerpt = " ".join(response.text.split())[:EXCERPT_CHARS] or "(empty body)"
    raise QueryLoadError(
        f"HTTP {response.status_code} {response.reason_phrase}, not a Prometheus JSON reply: "
        f"{excerpt}"
    )


def _get(client: httpx.Client, path: str, params: Mapping[str, Any]) -> Any:
    body = _body(client.get(path, params=params))
    if body.get("status") != "success":
        raise QueryLoadError(f"{path}: {body.get('error', 'no error text')}")
    return body["data"]


def _variable_values(
    variable: Variable, client: httpx.Client, scope: Scope, start: float, end: float
) -> list[str]:
    """Every value the variable offers, as Grafana would list them on load."""
    if variable.type == "interval":
        current = variable.current_values[:1]
        if variable.raw.get("auto") and (not current or current[0].startswith("$__auto")):
            # Grafana's auto interval: the range in auto_count steps, at least auto_min.
            steps = variable.raw.get("auto_count")
            steps = steps if isinstance(steps, int) and steps > 0 else 30
            low = _min_interval(variable.raw.get("auto_min") or "10s", {}) or 10.0
            return [format_duration(max(round_interval(scope.range_s / steps), low))]
        return [v for v in current if not v.startswith("$")] or variable.options[:1]
    if variable.type == "custom":
        return variable.options or variable.current_values
    if variable.type in {"constant", "textbox"}:
        return [interpolate(variable.query, scope)] if variable.query else []
    if variable.type != "query":
        return variable.current_values
    query = interpolate(variable.query, scope)
    window = {"start": start, "end": end}
    values: list[str]
    if match := _LABEL_VALUES.match(query):
        selector, label = match.groups()
        params: dict[str, Any] = dict(window)
        if selector:
            params["match[]"] = selector
        values = [str(v) for v in _get(client, f"/api/v1/label/{label}/values", params)]
    elif match := _METRICS.match(query):
        pattern = re.compile(match.group(1) or ".*")
        names = _get(client, "/api/v1/label/__name__/values", window)
        values = [str(n) for n in names if pattern.search(str(n))]
    elif match := _LABEL_NAMES.match(query):
        values = [str(n) for n in _get(client, "/api/v1/labels", window)]
    elif match := _QUERY_RESULT.match(query):
        data = _get(client, "/api/v1/query", {"query": match.group(1), "time": end})
        values = []
        for series in data.get("result", []):
            metric = series.get("metric", {})
            name = metric.get("__name__", "")
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(metric.items()) if k != "__name__")
            values.append(f"{name}{{{labels}}} {series.get('value', [0, ''])[1]} {int(end)}")
    else:
        return variable.current_values
    regex = variable.raw.get("regex")
    if isinstance(regex, str) and regex:
        values = _apply_regex(regex, values)
    return sorted(set(values))


def _apply_regex(regex: str, values: list[str]) -> list[str]:
    body = regex.strip()
    if body.startswith("/") and body.rfind("/") > 0:
        body = body[1 : body.rfind("/")]
    try:
        pattern = re.compile(body)
    except re.error:
        return values
    kept = []
    for value in values:
        match = pattern.search(value)
        if match:
            kept.append(match.group(1) if match.groups() and match.group(1) else value)
    return kept


def _resolve_variables(
    dashboard: Dashboard,
    client: httpx.Client,
    start: float,
    end: float,
    scrape_s: float,
    errors: list[str],
) -> tuple[dict[str, list[str]], frozenset[str], dict[str, list[str]]]:
    """(expanded values, multi-value variable names, every value per variable).

    A variable whose query fails keeps its saved values, as in Grafana, and the failure
    goes to ``errors``; only an unreachable Prometheus stops the run.
    """
    expanded: dict[str, list[str]] = {}
    every: dict[str, list[str]] = {}
    multi: set[str] = set()
    for variable in dashboard.variables:
        if variable.type in {"datasource", "adhoc", "groupby"}:
            continue
        scope = Scope(
            values=expanded, multi=frozenset(multi), scrape_interval_s=scrape_s, range_s=end - start
        )
        try:
            values = _variable_values(variable, client, scope, start, end)
        except httpx.TransportError:
            raise
        except (httpx.HTTPError, QueryLoadError, ValueError, KeyError, TypeError) as error:
            errors.append(f"variable ${variable.name}: {error}")
            values = [v for v in variable.current_values if v != "$__all"]
        every[variable.name] = values
        all_selected = "$__all" in variable.current_values or not variable.current_values
        if variable.include_all and (all_selected or variable.raw.get("multi")):
            # "Expanded to All": the custom allValue as written (Grafana does not escape
            # it), else every value as an alternation.
            if variable.all_value:
                expanded[variable.name] = [variable.all_value]
            else:
                expanded[variable.name] = values
                multi.add(variable.name)
        elif variable.raw.get("multi"):
            expanded[variable.name] = values
            multi.add(variable.name)
        else:
            current = [v for v in variable.current_values if v in values or not values]
            expanded[variable.name] = current[:1] or values[:1]
    return expanded, frozenset(multi), every


# --- queries ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Job:
    panel_key: int
    ref_id: str
    expr: str
    instant: bool
    start: float
    end: float
    step: float


def _is_promql(target: Target, panel: Panel, dashboard: Dashboard) -> bool:
    if target.hidden or not target.expr or not target.expr.strip():
        return False
    raw = target.datasource if target.datasource is not None else panel.datasource
    ref = resolve(raw, dashboard)
    return ref.is_prometheus is not False


def _panel_jobs(
    key: int,
    panel: Panel,
    dashboard: Dashboard,
    expanded: dict[str, list[str]],
    multi: frozenset[str],
    every: dict[str, list[str]],
    start: float,
    end: float,
    scrape_s: float,
) -> list[_Job]:
    range_s = end - start
    width = panel.width or GRID_COLUMNS // 2
    points = panel.raw.get("maxDataPoints")
    if not isinstance(points, int | float) or isinstance(points, bool) or points < 1:
        points = max(1, round(width / GRID_COLUMNS * SCREEN_WIDTH_PX))
    interval = round_interval(range_s / float(points))
    low = _min_interval(panel.raw.get("interval"), expanded) or scrape_s
    interval = max(interval, low)
    repeats: list[dict[str, list[str]]] = [expanded]
    if panel.repeat and panel.repeat in every:
        repeats = [{**expanded, panel.repeat: [v]} for v in every[panel.repeat]] or [expanded]
    jobs = []
    for values in repeats:
        repeat_multi = multi - {panel.repeat} if panel.repeat else multi
        for target in panel.targets:
            if not _is_promql(target, panel, dashboard):
                continue
            step = max(interval, _min_interval(target.raw.get("interval"), values) or 0)
            # Old dashboards multiply the step by a resolution factor (1/2 -> 2).
            factor = target.raw.get("intervalFactor")
            if isinstance(factor, int | float) and factor > 1:
                step *= factor
            step = max(step, math.ceil(range_s / MAX_POINTS))
            scope = Scope(
                values=values,
                multi=repeat_multi,
                interval_s=step,
                scrape_interval_s=scrape_s,
                range_s=range_s,
                end_s=end,
            )
            assert target.expr is not None
            jobs.append(
                _Job(
                    key,
                    target.ref_id,
                    interpolate(target.expr, scope),
                    target.instant,
                    # Range queries are aligned to the step, as Grafana aligns them.
                    math.floor(start / step) * step,
                    end if target.instant else math.floor(end / step) * step,
                    step,
                )
            )
    return jobs


def _run(client: httpx.Client, job: _Job) -> QueryLoad:
    began = time.perf_counter()
    try:
        if job.instant:
            response = client.post("/api/v1/query", data={"query": job.expr, "time": job.end})
        else:
            response = client.post(
                "/api/v1/query_range",
                data={"query": job.expr, "start": job.start, "end": job.end, "step": job.step},
            )
        latency = time.perf_counter() - began
        body = _body(response)
    except (httpx.HTTPError, QueryLoadError) as error:
        return QueryLoad(job.ref_id, job.expr, time.perf_counter() - began, 0, str(error))
    if body.get("status") != "success":
        message = f"{body.get('errorType', response.status_code)}: {body.get('error', '')}"
        return QueryLoad(job.ref_id, job.expr, latency, 0, message)
    data = body.get("data")
    result = data.get("result") if isinstance(data, dict) else None
    series = len(result) if isinstance(result, list) else int(result is not None)
    return QueryLoad(job.ref_id, job.expr, latency, series)


def run_dashboard(
    dashboard: Mapping[str, Any] | Dashboard,
    client: httpx.Client,
    *,
    now: float | None = None,
    scrape_interval_s: float = 15.0,
    concurrency: int = 6,
    include_collapsed: bool = False,
) -> DashboardLoad:
    """Run every query of ``dashboard`` as Grafana would on load; see the module docstring.

    ``client`` carries the Prometheus base URL, TLS and auth.
    """
    board = dashboard if isinstance(dashboard, Dashboard) else parse_dashboard(dict(dashboard))
    now = time.time() if now is None else now
    for problem in board.problems:
        if problem.field.split(".")[0] == "time":
            raise QueryLoadError(f"line {problem.line}: {problem.message}")
    time_from, time_to = board.time_range()
    start, end = parse_time(time_from, now), parse_time(time_to, now)
    if end <= start:
        raise QueryLoadError(f"time range {time_from}..{time_to} is empty")
    began = time.perf_counter()
    variable_errors: list[str] = []
    try:
        expanded, multi, every = _resolve_variables(
            board, client, start, end, scrape_interval_s, variable_errors
        )
    except httpx.TransportError as error:
        raise QueryLoadError(
            f"variable queries failed: Prometheus did not answer: {error}"
        ) from error
    variables_s = time.perf_counter() - began
    panels = [p for p in board.panels if include_collapsed or not p.collapsed]
    jobs = [
        job
        for key, panel in enumerate(panels)
        for job in _panel_jobs(
            key, panel, board, expanded, multi, every, start, end, scrape_interval_s
        )
    ]

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        results = list(pool.map(lambda job: _run(client, job), jobs))
    total_s = time.perf_counter() - began
    by_panel: dict[int, list[QueryLoad]] = {}
    for job, result in zip(jobs, results, strict=True):
        by_panel.setdefault(job.panel_key, []).append(result)
    loads = tuple(
        PanelLoad(
            panel_id=panel.id,
            title=panel.title,
            latency_s=max((q.latency_s for q in by_panel.get(key, [])), default=0.0),
            series=sum(q.series for q in by_panel.get(key, [])),
            queries=tuple(by_panel.get(key, [])),
        )
        for key, panel in enumerate(panels)
        if key in by_panel
    )
    return DashboardLoad(
        board.uid, board.title, start, end, variables_s, total_s, loads, tuple(variable_errors)
    )
