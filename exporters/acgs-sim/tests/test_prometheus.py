"""The simulator under a real Prometheus: every service scraped up, and ``unresponsive`` -> up 0."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from acgs_metrics import SERVICE_NAMES
from acgs_testkit.servers import prometheus
from acgs_testkit.sim import SimProcess, free_base_port
from acgs_testkit.waiting import poll


@pytest.fixture
def sim_and_prometheus(
    tmp_path: Path, run_sim: type[SimProcess]
) -> Iterator[tuple[SimProcess, str]]:
    sim = run_sim(free_base_port(), "--seed", "3")
    sim.start()
    jobs = "".join(
        f"  - job_name: acgs-{name}\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{sim.port(name)}']}}]\n"
        for name in SERVICE_NAMES
    )
    config = (
        "global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}\n"
        f"scrape_configs:\n{jobs}"
    )
    with prometheus(tmp_path / "prometheus", config) as server:
        yield sim, server.url


def query(url: str, expr: str) -> list[dict[str, Any]]:
    try:
        response = httpx.get(f"{url}/api/v1/query", params={"query": expr}, timeout=5)
    except httpx.HTTPError:
        return []  # Prometheus still starting
    if response.status_code != 200:
        return []
    result: list[dict[str, Any]] = response.json()["data"]["result"]
    return result


def up_by_job(url: str) -> dict[str, float]:
    return {r["metric"]["job"]: float(r["value"][1]) for r in query(url, "up")}


def wait_for_up(url: str, want: dict[str, float], timeout: float) -> dict[str, float]:
    def reached(seen: dict[str, float]) -> bool:
        return all(seen.get(job) == value for job, value in want.items())

    seen = poll(lambda: up_by_job(url), reached, timeout, every_s=0.5)
    assert reached(seen), f"up is {seen}, wanted {want}"
    return seen


def test_prometheus_scrapes_every_service_and_sees_unresponsive_as_down(
    sim_and_prometheus: tuple[SimProcess, str],
) -> None:
    sim, url = sim_and_prometheus
    wait_for_up(url, {f"acgs-{name}": 1.0 for name in SERVICE_NAMES}, timeout=30)
    # Each job's series carry its own service label only.
    services = query(url, 'count by (job, service) ({__name__=~"acgs_.+"})')
    assert {(r["metric"]["job"], r["metric"]["service"]) for r in services} == {
        (f"acgs-{name}", name) for name in SERVICE_NAMES
    }
    httpx.post(
        f"{sim.url('gs')}/control/faults", json={"fault": "unresponsive"}, timeout=5
    ).raise_for_status()
    started = time.monotonic()
    up = wait_for_up(url, {"acgs-gs": 0.0}, timeout=15)
    assert up["acgs-pgc"] == 1.0
    detected = time.monotonic() - started
    assert detected < 15
    httpx.delete(f"{sim.url('gs')}/control/faults", timeout=5).raise_for_status()
    wait_for_up(url, {"acgs-gs": 1.0}, timeout=15)
