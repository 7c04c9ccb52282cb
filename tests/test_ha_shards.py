"""2 shards x 2 replicas over 140 acgs-sim targets, deployed by acgs-deploy on real processes.

Each shard scrapes only its part (both replicas the same part; the parts disjoint, their
union every target, as :mod:`acgs_deploy.sharding` predicts), VictoriaMetrics holds each
target's series once, the shards load only the shard rule groups, and a global SLO alert
fires from vmalert (evaluated against VictoriaMetrics) when every gs instance fails.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from acgs_deploy.client import port_url, query, url_endpoint
from acgs_deploy.health import check_targets, expected_targets
from acgs_deploy.instances import prometheus_instances, victoriametrics_instance, vmalert_instance
from acgs_deploy.render import all_targets, local_topology
from acgs_deploy.settings import StackSettings
from acgs_deploy.sharding import split
from acgs_deploy.webhook import read_notifications
from acgs_metrics.services import instance_port
from acgs_testkit.stack import deployed_stack
from acgs_testkit.waiting import wait_for

pytestmark = [pytest.mark.ha, pytest.mark.timeout(1200)]

SHARDS, REPLICAS, SIM_REPLICAS = 2, 2, 20
SLO_ALERT = "ACGSErrorBudgetBurnFast"
# Per-target groups: the repository's own, and the demo infrastructure's.
SHARD_GROUPS = {"acgs-services", "monitoring-stack", "node-resources"} | {
    f"infrastructure-{part}" for part in ("haproxy", "redis", "postgresql", "exporters")
}


@pytest.fixture(scope="module")
def sharded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackSettings]:
    root: Path = tmp_path_factory.mktemp("ha-shards")
    with deployed_stack(
        root,
        topology="ha",
        prometheus_shards=SHARDS,
        prometheus_replicas=REPLICAS,
        sim_replicas=SIM_REPLICAS,
    ) as settings:
        yield settings


def _client(settings: StackSettings, port: int) -> httpx.Client:
    return url_endpoint(settings, port_url(settings, port)).client(15.0)


def _scraped(settings: StackSettings, port: int) -> set[str]:
    """The addresses one Prometheus scrapes (its active targets), once every one is up."""
    with _client(settings, port) as client:
        targets = client.get("/api/v1/targets", params={"state": "active"}).json()
    return {urlsplit(t["scrapeUrl"]).netloc for t in targets["data"]["activeTargets"]}


def _listing(settings: StackSettings, port: int, size: int) -> Callable[[], set[str] | None]:
    """Polls one Prometheus's scraped addresses until it lists `size` of them."""

    def listed() -> set[str] | None:
        found = _scraped(settings, port)
        return found if len(found) == size else None

    return listed


def _healthy(client: httpx.Client, expected: dict[str, set[str]]) -> Callable[[], bool]:
    return lambda: check_targets(client, expected).status == "ok"


def test_each_shard_scrapes_its_part_and_the_parts_cover_every_target_once(
    sharded: StackSettings,
) -> None:
    expected = all_targets(local_topology(sharded, demo=False))
    assert len([t for t in expected if t.startswith(f"{sharded.sim_host}:")]) >= 140
    predicted = split(expected, SHARDS)
    by_shard: dict[int, list[set[str]]] = {}
    for server in prometheus_instances(sharded):
        scraped = wait_for(
            _listing(sharded, server.port, len(predicted[server.shard])),
            60,
            f"{server.name} to list its shard's targets",
        )
        by_shard.setdefault(server.shard, []).append(scraped)
    assert sorted(by_shard) == list(range(SHARDS))
    parts = []
    for shard, replicas in by_shard.items():
        assert len(replicas) == REPLICAS
        assert replicas[0] == replicas[1], f"the replicas of shard {shard} differ"
        assert replicas[0] == set(predicted[shard])  # Prometheus' hashmod, as predicted
        parts.append(replicas[0])
    assert not parts[0] & parts[1]
    assert parts[0] | parts[1] == set(expected)
    # `invoke health` expects of each server its shard's targets, all up.
    for server in prometheus_instances(sharded):
        with _client(sharded, server.port) as client:
            healthy = _healthy(client, expected_targets(sharded, server.shard))
            wait_for(healthy, 90, f"{server.name}'s targets to be healthy", every_s=2)


def test_victoriametrics_holds_each_targets_series_once(sharded: StackSettings) -> None:
    store = victoriametrics_instance(sharded)
    assert store is not None
    targets = len(all_targets(local_topology(sharded, demo=False)))
    with _client(sharded, store.port) as vm:
        # Both replicas of a shard write every series; without their replica label they are
        # one series there (and each target is in one shard only).
        wait_for(
            lambda: _value(vm, "count(up)") == targets,
            180,
            f"VictoriaMetrics to hold up for all {targets} targets",
            every_s=3,
        )
        assert query(vm, "count by (job, instance) (up) > 1") == []
        per_series = 'count by (instance) (acgs_http_requests_total{job="acgs-gs"})'
        counts = {r["metric"]["instance"]: float(r["value"][1]) for r in query(vm, per_series)}
        assert len(counts) == SIM_REPLICAS
        shards = query(vm, 'count by (shard) (up{job=~"acgs-.*"})')
        assert sum(float(r["value"][1]) for r in shards) == 7 * SIM_REPLICAS
        assert {r["metric"]["shard"] for r in shards} == {"0", "1"}
        assert query(vm, "count(up{replica!=''})") == []


def _value(client: httpx.Client, expr: str) -> float | None:
    result = query(client, expr)
    return float(result[0]["value"][1]) if result else None


def test_shards_load_only_shard_groups_and_vmalert_the_global_ones(
    sharded: StackSettings,
) -> None:
    for server in prometheus_instances(sharded):
        with _client(sharded, server.port) as client:
            groups = client.get("/api/v1/rules").json()["data"]["groups"]
        assert {g["name"] for g in groups} == SHARD_GROUPS, server.name
    ruler = vmalert_instance(sharded)
    assert ruler is not None
    with _client(sharded, ruler.port) as client:
        groups = client.get("/api/v1/rules").json()["data"]["groups"]
    names = {g["name"] for g in groups}
    assert {"acgs-slo", "acgs-recording-slo", "acgs-services-fleet"} <= names
    assert not names & SHARD_GROUPS


def test_a_global_slo_alert_fires_from_vmalert_on_a_fault(sharded: StackSettings) -> None:
    ruler = vmalert_instance(sharded)
    assert ruler is not None
    # Every gs instance (on both shards) fails every request: only the fleet-wide ratio,
    # computed by vmalert from VictoriaMetrics, sees the whole service burn its budget.
    with httpx.Client(timeout=5) as sim:
        for replica in range(SIM_REPLICAS):
            port = instance_port("gs", sharded.sim_base_port, replica)
            fault = {"fault": "error_rate", "value": 1.0, "duration_s": 900}
            url = f"http://{sharded.sim_host}:{port}/control/faults"
            sim.post(url, json=fault).raise_for_status()
    started = time.monotonic()
    vmalert_url = port_url(sharded, ruler.port)

    def delivered() -> list[dict[str, Any]]:
        return [
            alert
            for record in read_notifications(sharded.layout.webhook_log)
            if isinstance(record["payload"], dict)
            for alert in record["payload"].get("alerts", [])
            if alert["labels"].get("alertname") == SLO_ALERT
            and alert["labels"].get("service") == "gs"
            and alert["status"] == "firing"
        ]

    wait_for(lambda: bool(delivered()), 600, f"{SLO_ALERT} for gs at the webhook", every_s=5)
    elapsed = time.monotonic() - started
    alert = delivered()[0]
    # Sent by vmalert (its generator URL), not by a shard's Prometheus.
    assert alert["generatorURL"].startswith(vmalert_url), alert["generatorURL"]
    assert "replica" not in alert["labels"]
    print(f"{SLO_ALERT} for gs delivered {elapsed:.0f} s after the fault")
