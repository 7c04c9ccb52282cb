"""Scrape latency: p95 of `scrape_duration_seconds` per job over a window.

The percentile is taken over every raw sample of the window (all targets of the job), not
over an average, so one slow target among seven shows.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from acgs_deploy.client import query
from acgs_deploy.perf.stats import percentile

TARGET_P95_MS = 100.0


@dataclass(frozen=True)
class ScrapeLatency:
    job: str
    samples: int
    p95_ms: float
    max_ms: float

    @property
    def passed(self) -> bool:
        return self.p95_ms < TARGET_P95_MS


def scrape_latency(
    client: httpx.Client, window_s: float = 300, end: float | None = None
) -> list[ScrapeLatency]:
    """Per job over the `window_s` seconds before `end` (default now), sorted by job name.

    Raises APIError when Prometheus cannot answer.
    """
    matrix = query(client, f"scrape_duration_seconds[{int(window_s)}s]", end)
    by_job: dict[str, list[float]] = {}
    for series in matrix:
        values = [float(value) * 1000 for _, value in series["values"]]
        by_job.setdefault(series["metric"].get("job", ""), []).extend(values)
    return [
        ScrapeLatency(job, len(values), percentile(values, 95), max(values))
        for job, values in sorted(by_job.items())
        if values
    ]
