"""Latency statistics: percentiles and success rate of a set of timed requests."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Sample:
    """One request: when it started (seconds since the run began), how long it took, its result."""

    started_s: float
    latency_s: float
    ok: bool
    kind: str = "instant"
    error: str = ""
    """Why it failed: 'HTTP <status>' or the exception's class name; empty when ok."""


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation between closest ranks (numpy's default).

    Raises ValueError on an empty sequence: a percentile of nothing has no meaning.
    """
    if not values:
        raise ValueError("percentile of an empty sequence")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile q must be within 0..100, got {q}")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class LatencySummary:
    """What the report states about a batch of requests. Latencies in milliseconds."""

    count: int
    succeeded: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float

    @property
    def success_rate(self) -> float:
        return self.succeeded / self.count if self.count else 0.0


def summarize(samples: Sequence[Sample]) -> LatencySummary:
    """Percentiles over the successful requests; the success rate over all of them.

    Failed requests are left out of the percentiles (a refused connection returns in
    microseconds and would flatter them) and show up in the success rate instead.
    """
    good = [s.latency_s * 1000 for s in samples if s.ok]
    if not good:
        nan = math.nan
        return LatencySummary(len(samples), 0, nan, nan, nan, nan, nan)
    return LatencySummary(
        count=len(samples),
        succeeded=len(good),
        p50_ms=percentile(good, 50),
        p95_ms=percentile(good, 95),
        p99_ms=percentile(good, 99),
        max_ms=max(good),
        mean_ms=sum(good) / len(good),
    )


def worst_window_success(samples: Sequence[Sample], window_s: float) -> float:
    """The lowest success rate of any `window_s` slice of the run (by start time): how bad
    the worst stretch of availability was, which a whole-run rate averages away."""
    slices: dict[int, list[bool]] = {}
    for sample in samples:
        slices.setdefault(int(sample.started_s // window_s), []).append(sample.ok)
    return min((sum(oks) / len(oks) for oks in slices.values()), default=0.0)
