"""How often an alert would have fired and flapped over the last hours, from real data.

Each alert's expression runs as a range query over the window, one point per evaluation
interval (coarser when the window would need more than Prometheus' 11,000 points). Each
result series is then played through the alerting state machine: it is pending from the
first point it is present, firing once it has been present for ``for``, and resolved when
absent (after ``keep_firing_for``, when set). A *fire* is a pending -> firing transition; a
*flap* is a fire of a series that had resolved less than ``flap_window`` before: the page
that wakes someone twice for one problem.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx

from acgs_promql.live.client import LiveError, api_get

__all__ = ["AlertBacktest", "BacktestSpec", "SeriesRun", "backtest", "play"]

MAX_POINTS = 10_000  # per series; Prometheus refuses a range query over 11,000


@dataclass(frozen=True)
class BacktestSpec:
    """One alerting rule to play back."""

    name: str
    path: str
    line: int
    expr: str
    for_s: float
    keep_firing_for_s: float
    interval_s: float  # its group's evaluation interval


@dataclass(frozen=True)
class SeriesRun:
    fires: int
    flaps: int
    firing_s: float


@dataclass(frozen=True)
class AlertBacktest:
    spec: BacktestSpec
    window_s: float  # how far back it looked
    step_s: float
    series: int = 0  # result series that fired at least once
    fires: int = 0
    flaps: int = 0
    firing_s: float = 0.0  # firing time, summed over series
    error: str | None = None  # the query failed (the rest of the table still counts)

    def as_dict(self) -> dict[str, object]:
        return {
            "alert": self.spec.name,
            "file": self.spec.path,
            "line": self.spec.line,
            "window_s": self.window_s,
            "step_s": self.step_s,
            "series": self.series,
            "fires": self.fires,
            "flaps": self.flaps,
            "firing_s": self.firing_s,
            "error": self.error,
        }


def play(
    timestamps: Sequence[float],
    step_s: float,
    for_s: float,
    keep_firing_for_s: float = 0.0,
    flap_window_s: float = 1800.0,
) -> SeriesRun:
    """Play one series' present points (sorted, on a ``step_s`` grid) through for/resolve."""
    fires = flaps = 0
    firing_s = 0.0
    active_since: float | None = None  # start of the current present run
    fired_at: float | None = None  # when the current run started firing
    last_seen = -float("inf")
    resolved_at = -float("inf")
    for t in timestamps:
        gap = t - last_seen
        continues = gap <= step_s * 1.5 or (
            fired_at is not None and gap <= keep_firing_for_s + step_s
        )
        if not continues:
            if fired_at is not None:
                firing_s += last_seen - fired_at + step_s
                resolved_at = last_seen + step_s
            active_since, fired_at = t, None
        if active_since is None:
            active_since = t
        if fired_at is None and t - active_since >= for_s:
            fired_at = t
            fires += 1
            if t - resolved_at < flap_window_s:
                flaps += 1
        last_seen = t
    if fired_at is not None:
        firing_s += last_seen - fired_at + step_s
    return SeriesRun(fires, flaps, firing_s)


def _one(
    client: httpx.Client, spec: BacktestSpec, start: float, end: float, flap_window_s: float
) -> AlertBacktest:
    step = max(spec.interval_s, (end - start) / MAX_POINTS, 1.0)
    params = {"query": spec.expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"}
    try:
        data = api_get(client, "/api/v1/query_range", params) or {}
    except LiveError as error:
        return AlertBacktest(spec, end - start, step, error=str(error))
    series = fires = flaps = 0
    firing_s = 0.0
    for row in data.get("result", []):
        stamps = [float(point[0]) for point in row.get("values", [])]
        run = play(stamps, step, spec.for_s, spec.keep_firing_for_s, flap_window_s)
        series += run.fires > 0
        fires += run.fires
        flaps += run.flaps
        firing_s += run.firing_s
    return AlertBacktest(spec, end - start, step, series, fires, flaps, firing_s)


def backtest(
    client: httpx.Client,
    alerts: Sequence[BacktestSpec],
    *,
    hours: float,
    flap_window_s: float = 1800.0,
    concurrency: int = 8,
    advance: Callable[[int], None] | None = None,
) -> list[AlertBacktest]:
    """Every alert played back over the last ``hours``, at most ``concurrency`` at a time."""
    end = time.time()
    start = end - hours * 3600.0

    def one(spec: BacktestSpec) -> AlertBacktest:
        result = _one(client, spec, start, end, flap_window_s)
        if advance is not None:
            advance(1)
        return result

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        return list(pool.map(one, alerts))
