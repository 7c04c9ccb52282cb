"""Alert-fatigue review: how often each alert fired over a window, which are noisiest or
flapping, and a suggestion for each.

Episodes are counted per series (one label set): an alert that fires once for seven
services has seven episodes but is not flapping. Flapping is one series firing again and
again, briefly. "Fired" counts incidents: episodes of any series of the alert that overlap
in time are one incident (one outage seen from seven places).

Sources: Prometheus' `ALERTS` series (firing and pending, sampled with range queries at the
rule evaluation interval), `ALERTS_FOR_STATE` (one distinct value per activation, so even an
activation shorter than the step is counted), and Alertmanager's `/api/v2/alerts` (what is
active there now, and whether silenced or inhibited).
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from acgs_deploy import client
from acgs_deploy.client import query_range, stack_client
from acgs_deploy.settings import StackSettings
from acgs_promql.durations import parse_duration

# One series that fired this often in the window, each time briefly, is flapping.
FLAP_MIN_EPISODES = 3
FLAP_MAX_MEDIAN_S = 600.0
ALWAYS_FIRING_SHARE = 0.9
MANY_SERIES = 10
NOISIEST = 5


@dataclass
class AlertStats:
    alertname: str
    severity: str = ""
    series: int = 0
    incidents: int = 0
    firing_episodes: int = 0
    activations: int = 0
    firing_s: float = 0.0
    # The series with the most episodes, and its episodes' durations.
    busiest_series: str = ""
    episode_durations_s: list[float] = field(default_factory=list)
    active_in_alertmanager: int = 0
    suppressed_in_alertmanager: int = 0
    flapping: bool = False
    suggestion: str = ""
    intervals: list[tuple[float, float]] = field(default_factory=list, repr=False)

    @property
    def busiest_series_episodes(self) -> int:
        return len(self.episode_durations_s)

    @property
    def median_episode_s(self) -> float:
        """Median episode duration of the busiest series."""
        return statistics.median(self.episode_durations_s) if self.episode_durations_s else 0.0

    def add_series(self, labels: str, intervals: list[tuple[float, float]]) -> None:
        self.series += 1
        self.firing_episodes += len(intervals)
        self.intervals.extend(intervals)
        if len(intervals) > self.busiest_series_episodes:
            self.busiest_series = labels
            self.episode_durations_s = [end - start for start, end in intervals]


@dataclass(frozen=True)
class FatigueReport:
    window_s: float
    step_s: float
    alerts: list[AlertStats]

    @property
    def noisiest(self) -> list[AlertStats]:
        ranked = sorted(self.alerts, key=lambda a: (-a.incidents, -a.firing_s, a.alertname))
        return [a for a in ranked if a.incidents][:NOISIEST]

    @property
    def flapping(self) -> list[AlertStats]:
        return [a for a in self.alerts if a.flapping]

    def as_dict(self) -> dict[str, Any]:
        def row(alert: AlertStats) -> dict[str, Any]:
            data = asdict(alert)
            data["median_episode_s"] = alert.median_episode_s
            data["busiest_series_episodes"] = alert.busiest_series_episodes
            del data["episode_durations_s"], data["intervals"]
            return data

        return {
            "window_s": self.window_s,
            "step_s": self.step_s,
            "alerts": [row(a) for a in self.alerts],
            "noisiest": [a.alertname for a in self.noisiest],
            "flapping": [a.alertname for a in self.flapping],
        }


def _episodes(values: Sequence[Sequence[Any]], step_s: float) -> list[tuple[float, float]]:
    """(start, end) of the runs of consecutive samples (a gap longer than one step ends a run)."""
    episodes: list[tuple[float, float]] = []
    start = previous = None
    for timestamp, _ in values:
        t = float(timestamp)
        if previous is None or t - previous > step_s * 1.5:
            if start is not None and previous is not None:
                episodes.append((start, previous + step_s))
            start = t
        previous = t
    if start is not None and previous is not None:
        episodes.append((start, previous + step_s))
    return episodes


def merge_incidents(intervals: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Overlapping (or touching) episodes of any series merged into incidents."""
    merged: list[tuple[float, float]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _series_name(metric: Mapping[str, str]) -> str:
    skip = {"__name__", "alertname", "alertstate"}
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(metric.items()) if k not in skip) + "}"


def _suggest(alert: AlertStats, window_s: float) -> str:
    if alert.firing_s >= ALWAYS_FIRING_SHARE * window_s:
        return (
            "fires all the time: fix the cause or the threshold; while fixing, silence it "
            "with an expiry instead of letting people learn to ignore it"
        )
    if alert.flapping:
        return (
            f"flaps ({alert.busiest_series} fired {alert.busiest_series_episodes} times, "
            f"median {alert.median_episode_s:.0f} s): "
            "raise `for:` or add `keep_firing_for:` so brief recoveries do not resolve and "
            "re-fire; move the threshold away from normal values"
        )
    if alert.series >= MANY_SERIES:
        return (
            f"fires for {alert.series} label sets: aggregate in the expression "
            "(e.g. `by (service)`) or group them in Alertmanager (`group_by`)"
        )
    if alert.activations > alert.firing_episodes:
        return (
            f"{alert.activations - alert.firing_episodes} activation(s) ended while pending: "
            "`for:` is filtering noise as meant; no change"
        )
    if alert.series > 1 and alert.incidents < alert.series:
        return (
            f"{alert.series} label sets fired together in {alert.incidents} incident(s): "
            "group them in Alertmanager (`group_by`) so each incident notifies once"
        )
    if alert.firing_episodes:
        return "fired rarely: no change"
    return "did not fire in the window"


def alert_fatigue(
    prometheus: httpx.Client,
    alertmanager: httpx.Client | None,
    window_s: float = 86400.0,
    step_s: float = 15.0,
    now: float | None = None,
) -> FatigueReport:
    """Count firing episodes per alert over the last `window_s` seconds (see module doc)."""
    end = time.time() if now is None else now
    start = end - window_s
    alerts: dict[str, AlertStats] = {}

    def stats(metric: dict[str, str]) -> AlertStats:
        name = metric.get("alertname", "")
        entry = alerts.setdefault(name, AlertStats(name))
        entry.severity = entry.severity or metric.get("severity", "")
        return entry

    for series in query_range(prometheus, 'ALERTS{alertstate="firing"}', start, end, step_s):
        stats(series["metric"]).add_series(
            _series_name(series["metric"]), _episodes(series["values"], step_s)
        )
    for series in query_range(prometheus, "ALERTS_FOR_STATE", start, end, step_s):
        stats(series["metric"]).activations += len({value for _, value in series["values"]})
    for series in query_range(prometheus, 'ALERTS{alertstate="pending"}', start, end, step_s):
        entry = stats(series["metric"])
        entry.activations = max(entry.activations, len(_episodes(series["values"], step_s)))
    if alertmanager is not None:
        for alert in client.alerts(alertmanager):
            entry = stats(alert.get("labels", {}))
            entry.active_in_alertmanager += 1
            if alert.get("status", {}).get("state") == "suppressed":
                entry.suppressed_in_alertmanager += 1
    for entry in alerts.values():
        incidents = merge_incidents(entry.intervals)
        entry.incidents = len(incidents)
        entry.firing_s = sum(end - start for start, end in incidents)
        entry.activations = max(entry.activations, entry.firing_episodes)
        entry.flapping = (
            entry.busiest_series_episodes >= FLAP_MIN_EPISODES
            and entry.median_episode_s <= FLAP_MAX_MEDIAN_S
        )
        entry.suggestion = _suggest(entry, window_s)
    ordered = sorted(alerts.values(), key=lambda a: (-a.incidents, -a.firing_episodes, a.alertname))
    return FatigueReport(window_s, step_s, ordered)


def render_fatigue(report: FatigueReport, console: Console) -> None:
    table = Table(title=f"Alert fatigue over the last {report.window_s / 3600:.1f} h")
    columns = ("alert", "severity", "incidents", "episodes", "firing time", "series", "in AM",
               "suggestion")  # fmt: skip
    for column in columns:
        table.add_column(column)
    for alert in report.alerts:
        name = f"[bold]{alert.alertname}[/]" if alert in report.noisiest else alert.alertname
        if alert.flapping:
            name += " [yellow](flapping)[/]"
        table.add_row(
            name,
            alert.severity,
            str(alert.incidents),
            str(alert.firing_episodes),
            f"{alert.firing_s:.0f} s",
            str(alert.series),
            str(alert.active_in_alertmanager),
            alert.suggestion,
        )
    console.print(table)


def stack_alert_fatigue(settings: StackSettings, window_s: float) -> FatigueReport:
    """The review of the stack in `settings`, sampled at its rule evaluation interval."""
    step_s = parse_duration(settings.evaluation_interval)
    with stack_client(settings, "prometheus") as prom, stack_client(settings, "alertmanager") as am:
        return alert_fatigue(prom, am, window_s, step_s)


def print_fatigue(report: FatigueReport, console: Console, output_format: str) -> None:
    """The review as JSON (`FatigueReport.as_dict`) or as a table."""
    if output_format == "json":
        console.print_json(json.dumps(report.as_dict()))
    else:
        render_fatigue(report, console)
