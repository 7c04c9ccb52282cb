"""What backup and restore ask of Prometheus over its HTTP API (snapshot, version, counts)."""

from __future__ import annotations

import json
import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

# One evaluation step of the counting queries: 2 h holds a bounded number of samples per series,
# far below Prometheus's query.max-samples for any sane series count.
COUNT_WINDOW_MS = 2 * 3600 * 1000
MAX_STEPS = 10_000


class PrometheusAPIError(Exception):
    """Prometheus answered with an error, or not at all."""


@dataclass(frozen=True)
class MetricCount:
    series: int
    samples: int


def _get_data(client: httpx.Client, method: str, path: str, **params: Any) -> Any:
    try:
        response = client.request(method, path, params=params or None)
    except httpx.HTTPError as error:
        raise PrometheusAPIError(f"Prometheus at {client.base_url}: {error}") from None
    if response.status_code == 404 and "admin" in path:
        raise PrometheusAPIError(
            f"Prometheus at {client.base_url} has no admin API: start it with "
            "--web.enable-admin-api"
        )
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code >= 400 or body.get("status") != "success":
        detail = body.get("error") or response.text[:200]
        raise PrometheusAPIError(f"{method} {path}: HTTP {response.status_code}: {detail}")
    return body.get("data")


def version(client: httpx.Client) -> str:
    data = _get_data(client, "GET", "/api/v1/status/buildinfo")
    return str(data["version"])


def take_snapshot(client: httpx.Client, data_dir: Path) -> Path:
    """Snapshot the TSDB, head included; returns `<data_dir>/snapshots/<name>`."""
    data = _get_data(client, "POST", "/api/v1/admin/tsdb/snapshot", skip_head="false")
    path = data_dir / "snapshots" / str(data["name"])
    if not path.is_dir():
        raise PrometheusAPIError(
            f"Prometheus reported snapshot {data['name']!r} but {path} does not exist: "
            "is the data directory the one this Prometheus uses?"
        )
    return path


def _range_selector_ms(prometheus_version: str) -> int:
    """Range length that makes consecutive windows of COUNT_WINDOW_MS tile without overlap.

    Prometheus 2.x range selectors include both ends, 3.x exclude the start.
    """
    major = int(prometheus_version.split(".", 1)[0] or 0)
    return COUNT_WINDOW_MS if major >= 3 else COUNT_WINDOW_MS - 1


def _selector(name: str) -> str:
    escaped = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'{{__name__="{escaped}"}}'


def count_samples(
    client: httpx.Client, start_ms: int, end_ms: int, *, workers: int = 4
) -> dict[str, MetricCount]:
    """Series and samples per metric name with timestamps in [start_ms, end_ms].

    Sums count_over_time over windows that tile the range exactly. Each metric's windows are
    split into `workers` range queries run side by side, so one huge metric uses every core.
    """
    if end_ms < start_ms:
        return {}
    window = COUNT_WINDOW_MS
    steps = math.ceil((end_ms - start_ms + 1) / window)
    if steps > MAX_STEPS:
        raise PrometheusAPIError(f"range of {steps} windows is too long to count")
    first = end_ms - (steps - 1) * window
    per_query = math.ceil(steps / workers)
    selector_ms = _range_selector_ms(version(client))
    names = _get_data(
        client,
        "GET",
        "/api/v1/label/__name__/values",
        start=f"{start_ms / 1000:.3f}",
        end=f"{end_ms / 1000:.3f}",
    )
    tasks = [
        (name, first + offset * window, min(steps - 1, offset + per_query - 1))
        for name in sorted(names)
        for offset in range(0, steps, per_query)
    ]

    def count_part(task: tuple[str, int, int]) -> tuple[str, set[str], int]:
        name, start, last_step = task
        data = _get_data(
            client,
            "GET",
            "/api/v1/query_range",
            query=f"count_over_time({_selector(name)}[{selector_ms}ms])",
            start=f"{start / 1000:.3f}",
            end=f"{(first + last_step * window) / 1000:.3f}",
            step=f"{window / 1000:.3f}",
        )
        series = {json.dumps(item["metric"], sort_keys=True) for item in data["result"]}
        samples = sum(int(float(v)) for item in data["result"] for _, v in item["values"])
        return name, series, samples

    series_by_name: dict[str, set[str]] = {}
    samples_by_name: dict[str, int] = {}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for name, series, samples in pool.map(count_part, tasks):
            series_by_name.setdefault(name, set()).update(series)
            samples_by_name[name] = samples_by_name.get(name, 0) + samples
    return {
        name: MetricCount(series=len(series), samples=samples_by_name[name])
        for name, series in series_by_name.items()
        if series
    }


def wait_ready(client: httpx.Client, timeout_s: float = 60.0) -> None:
    """Block until /-/ready answers 200 (after a start or restart)."""
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            response = client.get("/-/ready")
            if response.status_code == 200:
                return
            last = f"HTTP {response.status_code}"
        except httpx.HTTPError as error:
            last = str(error)
        time.sleep(0.2)
    raise PrometheusAPIError(
        f"Prometheus at {client.base_url} not ready after {timeout_s}s: {last}"
    )
