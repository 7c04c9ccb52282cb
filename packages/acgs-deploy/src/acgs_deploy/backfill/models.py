"""What each scrape target of the stack would have exposed in the past.

- An ACGS service (a target with a ``service`` label) is acgs-sim's own model of it
  (:class:`acgs_sim.service.SimService`) run in virtual time: requests arrive at its routes'
  rates times a daily cycle, each goes through the service's handlers and HTTP metrics as a
  real one would, its gauges tick, and incidents (a fault for some minutes, or the service
  down) happen a few times a day.
- Any other target (node_exporter, Prometheus, Alertmanager, exporters) is modelled from its
  live series: counters (``_total``, ``_bucket``, ``_count``, ``_sum``, ``_created`` excepted)
  grow at their recent rate from 0 at the start of the history, whole-number gauges keep their
  value (``*_info``, ``up``-like flags, counts) and other gauges wander within 1 % of it.

Each model answers :meth:`samples` at a timestamp: (name, labels, value) as Prometheus would
store them, target labels applied (a scraped label that clashes with one becomes
``exported_<name>``, as with ``honor_labels: false``).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from random import Random

from acgs_metrics.rendering import families
from acgs_sim.behaviour import Route
from acgs_sim.faults import FaultName
from acgs_sim.service import SimService

__all__ = [
    "DAY_S",
    "Incident",
    "LiveSeries",
    "ServiceModel",
    "TargetModel",
    "daily_load",
    "plan_incidents",
]

DAY_S = 86_400.0
COUNTER_SUFFIX = re.compile(r"_(total|bucket|count|sum)$")
# Faults an incident may be, with the value it injects.
INCIDENT_FAULTS = {
    FaultName.ERROR_RATE: 0.2,
    FaultName.SLOW_SYNTHESIS: 8.0,
    FaultName.COMPLIANCE_DROP: 0.6,
    FaultName.COST_SPIKE: 8.0,
}
Labels = tuple[tuple[str, str], ...]
Point = tuple[str, Labels, float]


def daily_load(at: float) -> float:
    """Traffic relative to the day's mean: low at night, a peak mid-afternoon (UTC), quieter
    at weekends."""
    hour = (at % DAY_S) / 3600
    weekday = time.gmtime(at).tm_wday
    level = 1.0 + 0.6 * math.sin((hour - 9) / 24 * 2 * math.pi)
    return level * (0.6 if weekday >= 5 else 1.0)


@dataclass(frozen=True)
class Incident:
    service: str  # the service label it hits
    start: float
    end: float
    fault: FaultName | None  # None: the service is down (nothing scraped, up == 0)


def plan_incidents(services: list[str], start: float, end: float, seed: int) -> list[Incident]:
    """About three incidents a day, each on one service for 5 to 25 minutes; one in five is
    an outage."""
    rng = Random(seed)  # noqa: S311 (simulated data)
    incidents: list[Incident] = []
    at = start + rng.expovariate(3 / DAY_S)
    while at < end and services:
        length = rng.uniform(300, 1500)
        fault = None if rng.random() < 0.2 else rng.choice(list(INCIDENT_FAULTS))
        incidents.append(Incident(rng.choice(services), at, min(at + length, end), fault))
        at += length + rng.expovariate(3 / DAY_S)
    return incidents


class TargetModel:
    """One scrape target: its labels, scrape interval and what it exposes at a time."""

    labels: dict[str, str]
    interval_s: float

    def samples(self, at: float) -> list[Point] | None:
        """The target's samples at `at`, or None when it was down then."""
        raise NotImplementedError


def _with_target(labels: Labels, target: dict[str, str]) -> Labels:
    merged = dict(labels)
    for name in target:
        if name in merged:
            merged[f"exported_{name}"] = merged.pop(name)
    merged.update(target)
    return tuple(sorted(merged.items()))


@dataclass
class ServiceModel(TargetModel):
    """acgs-sim's model of one service instance, driven in virtual time."""

    labels: dict[str, str]
    interval_s: float
    incidents: list[Incident]
    seed: int
    clock: float = 0.0
    sim: SimService = field(init=False)
    _rng: Random = field(init=False)
    # (name, labels as scraped) -> labels as stored, target labels applied
    _merged: dict[tuple[str, Labels], Labels] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.sim = SimService(self.labels["service"], seed=self.seed)
        self._rng = Random(self.seed)  # noqa: S311 (simulated data)

    def samples(self, at: float) -> list[Point] | None:
        incident = self._incident(at)
        self._advance(at, incident)
        if incident is not None and incident.fault is None:
            return None
        points = []
        merged = self._merged
        for family in families(self.sim.registry):
            created = family.metric.name + "_created"
            for name, items, value, _, _ in family.rows:
                if name == created:
                    continue  # Prometheus 2.42 keeps no _created series from OpenMetrics
                labels = merged.get((name, items))
                if labels is None:
                    labels = merged[(name, items)] = _with_target(items, self.labels)
                points.append((name, labels, value))
        return points

    def _incident(self, at: float) -> Incident | None:
        for incident in self.incidents:
            if incident.start <= at < incident.end:
                return incident
        return None

    def _advance(self, at: float, incident: Incident | None) -> None:
        """Serve the requests of (clock, at] and tick the gauges once a second of them."""
        elapsed = at - self.clock if self.clock else self.interval_s
        self.clock = at
        faults = self.sim.faults
        faults.clear()
        fault = incident.fault if incident is not None else None
        if incident is not None and fault is None:
            return  # down: nothing served, nothing moves
        if fault is not None and self.sim.behaviour.supports(fault):
            faults.inject(fault, INCIDENT_FAULTS[fault])
        load = daily_load(at)
        for route in self.sim.behaviour.routes:
            for _ in range(_poisson(self._rng, route.rate * load * elapsed)):
                self._request(route)
        for _ in range(max(1, round(min(elapsed, 15)))):
            self.sim.tick()

    def _request(self, route: Route) -> None:
        sim = self.sim
        error_rate = sim.faults.get(FaultName.ERROR_RATE)
        if error_rate is not None and self._rng.random() < error_rate.value:
            status = 500
        else:
            status, _ = sim.behaviour.handle(route)
        seconds = sim.behaviour.latency(route)
        # The HTTP metrics time a request from `started`; give them the simulated duration.
        sim.http.started()
        sim.http.finished(time.perf_counter() - seconds, route.template, route.method, status)


@dataclass(frozen=True)
class LiveSeries:
    name: str
    labels: Labels  # without __name__, target labels included
    value: float
    rate: float  # per second over the last minutes; 0 for gauges


@dataclass
class LiveModel(TargetModel):
    """A target other than an ACGS service, extrapolated from its live series."""

    labels: dict[str, str]
    interval_s: float
    series: list[LiveSeries]
    start: float
    seed: int
    _rng: Random = field(init=False)

    def __post_init__(self) -> None:
        self._rng = Random(self.seed)  # noqa: S311 (simulated data)

    def samples(self, at: float) -> list[Point] | None:
        points = []
        for series in self.series:
            if is_counter(series.name):
                value = series.rate * (at - self.start)
            elif series.value.is_integer() or not math.isfinite(series.value):
                value = series.value
            else:
                value = series.value * (1 + self._rng.uniform(-0.01, 0.01))
            points.append((series.name, series.labels, value))
        return points


def is_counter(name: str) -> bool:
    return COUNTER_SUFFIX.search(name) is not None


def _poisson(rng: Random, mean: float) -> int:
    if mean > 30:  # normal approximation: Knuth's loop grows with the mean
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def scrape_series(
    model: TargetModel, points: list[Point] | None, duration_s: float
) -> Iterator[Point]:
    """What Prometheus records for each scrape of the target: up and the scrape_* series."""
    target = tuple(sorted(model.labels.items()))
    up = points is not None
    count = float(len(points)) if points is not None else 0.0
    yield "up", target, 1.0 if up else 0.0
    yield "scrape_duration_seconds", target, duration_s
    yield "scrape_samples_scraped", target, count
    yield "scrape_samples_post_metric_relabeling", target, count
    yield "scrape_series_added", target, 0.0
