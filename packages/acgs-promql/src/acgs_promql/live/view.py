"""What a live Prometheus knows of the metrics some expressions read, fetched once.

:func:`fetch` asks, with at most ``concurrency`` requests in flight:

- ``/api/v1/metadata`` once: each metric family's type, as its targets expose it;
- ``/api/v1/targets`` once: each job's real scrape interval;
- ``/api/v1/status/config`` once: the running configuration (for detection latency);
- ``/api/v1/series`` once per metric name over the lookback window: whether it has series,
  and which label names and values they carry (one call answers presence, labels and
  values; ``/api/v1/labels`` would need a second call per metric for the values).

The result, a :class:`LiveView`, is plain data: the live checks only look things up in it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

from acgs_promql.durations import parse_duration
from acgs_promql.live.client import LiveError, api_get, shaped

__all__ = ["LiveMetric", "LiveView", "fetch"]


@dataclass(frozen=True)
class LiveMetric:
    """The series of one metric name seen in the lookback window."""

    name: str
    series: int
    labels: Mapping[str, frozenset[str]]  # label name -> values seen (no __name__)

    @property
    def jobs(self) -> frozenset[str]:
        return self.labels.get("job", frozenset())


@dataclass(frozen=True)
class LiveView:
    url: str
    lookback_s: float
    metadata: Mapping[str, str]  # metric family -> type (counter, gauge, histogram, ...)
    metrics: Mapping[str, LiveMetric]  # every name asked for, with 0 series when none
    job_intervals: Mapping[str, float]  # job -> its targets' longest scrape interval
    config_yaml: str | None = None  # /api/v1/status/config
    warnings: tuple[str, ...] = field(default=())  # calls that failed but did not stop it

    def metric(self, name: str) -> LiveMetric | None:
        """What was seen of ``name``; None when it was not asked for."""
        return self.metrics.get(name)

    def scrape_interval(self, name: str) -> float | None:
        """The longest real scrape interval of the jobs whose targets expose ``name``."""
        metric = self.metrics.get(name)
        intervals = (
            [self.job_intervals[j] for j in metric.jobs if j in self.job_intervals]
            if metric
            else []
        )
        return max(intervals) if intervals else None


def _metadata(client: httpx.Client) -> dict[str, str]:
    def read(data: Any) -> dict[str, str]:
        types: dict[str, str] = {}
        for family, entries in (data or {}).items():
            kinds = {str(e.get("type")) for e in entries if isinstance(e, dict)}
            # Targets may disagree on a family's type: unknown rather than a guess.
            types[str(family)] = kinds.pop() if len(kinds) == 1 else "unknown"
        return types

    return shaped(client, "/api/v1/metadata", read, api_get(client, "/api/v1/metadata"))


def _job_intervals(client: httpx.Client) -> dict[str, float]:
    def read(data: Any) -> dict[str, float]:
        intervals: dict[str, float] = {}
        for target in (data or {}).get("activeTargets", []):
            job = (target.get("labels") or {}).get("job") or target.get("scrapePool")
            text = target.get("scrapeInterval")
            if not job or not isinstance(text, str):
                continue
            try:
                seconds = parse_duration(text)
            except ValueError:
                continue
            intervals[str(job)] = max(seconds, intervals.get(str(job), 0.0))
        return intervals

    data = api_get(client, "/api/v1/targets", {"state": "active"})
    return shaped(client, "/api/v1/targets", read, data)


def _series(client: httpx.Client, name: str, start: float, end: float) -> LiveMetric:
    params = {"match[]": f'{{__name__="{name}"}}', "start": f"{start:.3f}", "end": f"{end:.3f}"}

    def read(rows: Any) -> LiveMetric:
        values: dict[str, set[str]] = {}
        for row in rows or []:
            for label, value in row.items():
                if label != "__name__":
                    values.setdefault(str(label), set()).add(str(value))
        return LiveMetric(name, len(rows or []), {k: frozenset(v) for k, v in values.items()})

    return shaped(client, "/api/v1/series", read, api_get(client, "/api/v1/series", params))


def fetch(
    client: httpx.Client,
    names: Iterable[str],
    *,
    lookback_s: float = 86_400.0,
    concurrency: int = 8,
    advance: Callable[[int], None] | None = None,
) -> LiveView:
    """The server's view of ``names``; ``advance(n)`` is called as calls complete (progress).

    Raises :class:`LiveError` when the server cannot be read at all (its metadata or series);
    a failed ``/api/v1/status/config`` (a proxy may forbid it) is a warning in the view."""
    wanted = sorted(set(names))
    end = time.time()
    start = end - lookback_s
    warnings: list[str] = []

    def config() -> str | None:
        try:
            data = api_get(client, "/api/v1/status/config")
            return shaped(client, "/api/v1/status/config", lambda d: str(d["yaml"]) or None, data)
        except LiveError as error:
            warnings.append(f"running configuration not read: {error}")
            return None

    def one(name: str) -> LiveMetric:
        metric = _series(client, name, start, end)
        if advance is not None:
            advance(1)
        return metric

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        metadata = pool.submit(_metadata, client)
        jobs = pool.submit(_job_intervals, client)
        config_yaml = pool.submit(config)
        metrics = list(pool.map(one, wanted))
        return LiveView(
            str(client.base_url),
            lookback_s,
            metadata.result(),
            {m.name: m for m in metrics},
            jobs.result(),
            config_yaml.result(),
            tuple(warnings),
        )
