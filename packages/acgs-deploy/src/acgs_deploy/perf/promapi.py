"""Small helpers over the Prometheus HTTP API for the checks (sync `httpx.Client`)."""

from __future__ import annotations

from typing import Any

import httpx

_UNITS_S = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


class PrometheusError(RuntimeError):
    """Prometheus refused a query or could not be reached; the message says which and why."""


def api_get(client: httpx.Client, path: str, params: dict[str, str] | None = None) -> Any:
    """GET an `/api/v1` path and return its `data`, or raise PrometheusError."""
    try:
        response = client.get(path, params=params)
    except httpx.HTTPError as error:
        raise PrometheusError(f"{client.base_url}{path}: {type(error).__name__}: {error}") from None
    if response.status_code == 401:
        raise PrometheusError(f"{client.base_url}{path}: 401 unauthorized: check the credentials")
    try:
        body = response.json()
    except ValueError:
        raise PrometheusError(
            f"{client.base_url}{path}: HTTP {response.status_code}, not JSON"
        ) from None
    if body.get("status") != "success":
        raise PrometheusError(f"{client.base_url}{path}: {body.get('error', response.text[:200])}")
    return body["data"]


def query(client: httpx.Client, expr: str, at: float | None = None) -> list[dict[str, Any]]:
    """An instant query's result (vector or matrix) as Prometheus returns it."""
    params = {"query": expr}
    if at is not None:
        params["time"] = f"{at:.3f}"
    result = api_get(client, "/api/v1/query", params)["result"]
    return list(result)


def query_range(
    client: httpx.Client, expr: str, start: float, end: float, step_s: float
) -> list[dict[str, Any]]:
    """A range query's matrix, split into chunks under Prometheus' 11,000 points per series."""
    matrix: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}
    chunk_s = step_s * 10_000
    chunk_start = start
    while chunk_start <= end:
        chunk_end = min(end, chunk_start + chunk_s)
        params = {
            "query": expr,
            "start": f"{chunk_start:.3f}",
            "end": f"{chunk_end:.3f}",
            "step": f"{step_s}",
        }
        for series in api_get(client, "/api/v1/query_range", params)["result"]:
            key = tuple(sorted(series["metric"].items()))
            entry = matrix.setdefault(key, {"metric": series["metric"], "values": []})
            entry["values"].extend(series["values"])
        chunk_start = chunk_end + step_s
    return list(matrix.values())


def parse_duration(duration: str) -> float:
    """A Prometheus duration ('15d', '1h30m') in seconds."""
    total, number = 0.0, ""
    index = 0
    while index < len(duration):
        char = duration[index]
        if char.isdigit():
            number += char
            index += 1
            continue
        unit = "ms" if duration.startswith("ms", index) else char
        if unit not in _UNITS_S or not number:
            raise ValueError(f"not a Prometheus duration: {duration!r}")
        total += int(number) * _UNITS_S[unit]
        number = ""
        index += len(unit)
    if number:
        raise ValueError(f"not a Prometheus duration: {duration!r}")
    return total
