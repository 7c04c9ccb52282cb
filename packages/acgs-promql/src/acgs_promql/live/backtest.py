"""How often an alert would have fired and flapped over the last hours, from real data.

Each alert's expression runs as a range query over the window, one point per evaluation
interval but at least ``min_step_s`` (1 minute, as pint's ``alerts/count``) apart, coarser
when the window would need more than 10,000 points; alerts with the same expression share
one query. Each
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
from typing import Any

import httpx

from acgs_promql.live.client import LiveError, api_get, shaped

__all__ = ["AlertBacktest", "BacktestSpec", "SeriesRun", "backtest", "play", "step_for"]

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


def step_for(spec: BacktestSpec, window_s: float, min_step_s: float) -> float:
    """One point per evaluation, at least ``min_step_s`` apart, at most MAX_POINTS."""
    return max(spec.interval_s, min_step_s, window_s / MAX_POINTS, 1.0)


def _matrix(
    client: httpx.Client, expr: str, start: float, end: float, step: float
) -> list[list[float]] | str:
    """Each result series' timestamps, or the error Prometheus gave."""
    params = {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"}

    def read(data: Any) -> list[list[float]]:
        return [[float(p[0]) for p in row.get("values", [])] for row in data.get("result", [])]

    try:
        return shaped(
            client, "/api/v1/query_range", read, api_get(client, "/api/v1/query_range", params)
        )
    except LiveError as error:
        return str(error)


def _played(
    spec: BacktestSpec,
    window: tuple[float, float, float],
    matrix: list[list[float]] | str,
    flap_window_s: float,
) -> AlertBacktest:
    start, end, step = window
    if isinstance(matrix, str):
        return AlertBacktest(spec, end - start, step, error=matrix)
    runs = [
        play(stamps, step, spec.for_s, spec.keep_firing_for_s, flap_window_s) for stamps in matrix
    ]
    return AlertBacktest(
        spec,
        end - start,
        step,
        sum(run.fires > 0 for run in runs),
        sum(run.fires for run in runs),
        sum(run.flaps for run in runs),
        sum(run.firing_s for run in runs),
    )


def backtest(
    client: httpx.Client,
    alerts: Sequence[BacktestSpec],
    *,
    hours: float,
    min_step_s: float = 60.0,
    flap_window_s: float = 1800.0,
    concurrency: int = 8,
    advance: Callable[[int], None] | None = None,
) -> list[AlertBacktest]:
    """Every alert played back over the last ``hours``, at most ``concurrency`` queries at
    a time; alerts with the same expression and step share one query."""
    end = time.time()
    start = end - hours * 3600.0
    steps = [step_for(spec, end - start, min_step_s) for spec in alerts]
    queries: dict[tuple[str, float], list[int]] = {}
    for index, (spec, step) in enumerate(zip(alerts, steps, strict=True)):
        queries.setdefault((spec.expr, step), []).append(index)

    def one(key: tuple[str, float]) -> None:
        matrix = _matrix(client, key[0], start, end, key[1])
        for index in queries[key]:
            results[index] = _played(alerts[index], (start, end, key[1]), matrix, flap_window_s)
        if advance is not None:
            advance(len(queries[key]))

    results: list[AlertBacktest | None] = [None] * len(alerts)
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        list(pool.map(one, queries))
    return [r for r in results if r is not None]
