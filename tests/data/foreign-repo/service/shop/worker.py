"""The shop's background worker: a metric imported under another name, and a Counter that
is not prometheus_client's (collections.Counter must not be read as a metric)."""

from __future__ import annotations

from collections import Counter

from prometheus_client.metrics import Counter as MetricCounter

JOBS = MetricCounter("shop_jobs_done_total", "Jobs finished.", ["queue", "result"])


def tally(words: list[str]) -> Counter[str]:
    return Counter(words)
