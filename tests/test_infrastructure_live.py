"""The infrastructure alerts and dashboard against the real thing: acgs-sim using a real Redis
and PostgreSQL, its traffic through a real HAProxy, the real exporters, a real Prometheus
evaluating rules/infrastructure.yml. Silent under normal traffic; each fault raises its alert;
every HAProxy, Redis and PostgreSQL panel returns data."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from acgs_dashboards.build import build_all
from acgs_dashboards.queryload import run_dashboard
from acgs_testkit.infra import InfraStack, infra_stack
from acgs_testkit.paths import REPO_ROOT
from acgs_testkit.waiting import poll, wait_for

RULES = REPO_ROOT / "rules" / "infrastructure.yml"
INFRA_ROWS = ("HAProxy", "Redis", "PostgreSQL")


def _alerts() -> dict[str, str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {rule["alert"]: rule["expr"] for group in groups for rule in group["rules"]}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfraStack]:
    with infra_stack(tmp_path_factory.mktemp("infra"), [RULES]) as running:
        # Rates need a few scrapes of traffic through every part.
        running.wait_for("rate(redis_commands_processed_total[10s]) > 0")
        running.wait_for('rate(pg_stat_database_tup_inserted{datname="acgs"}[10s]) > 0')
        running.wait_for("sum(rate(haproxy_backend_http_requests_total[10s])) > 0")
        yield running


def _firing(stack: InfraStack, alert: str) -> list[dict[str, Any]]:
    return stack.query(f'ALERTS{{alertname="{alert}", alertstate="firing"}}')


def _wait_firing(stack: InfraStack, alert: str, timeout_s: float = 60) -> list[dict[str, Any]]:
    return wait_for(lambda: _firing(stack, alert), timeout_s, f"{alert} to fire", every_s=0.5)


def test_every_alert_is_silent_under_normal_traffic(stack: InfraStack) -> None:
    # Every expression evaluates on real series (a wrong metric name would be silent too:
    # the panel test below shows the names are the exporters'), and none is true.
    for alert, expr in _alerts().items():
        assert stack.query(expr) == [], alert
    assert stack.query('ALERTS{alertname=~"HAProxy.*|Redis.*|PostgreSQL.*|Infra.*"}') == []


def test_infrastructure_panels_return_data(stack: InfraStack, tmp_path: Path) -> None:
    build_all(tmp_path, source_dir=REPO_ROOT / "dashboards")
    board = json.loads((tmp_path / "dashboards" / "acgs-infrastructure.json").read_text())
    board["time"] = {"from": "now-5m", "to": "now"}
    rows = [p for p in board["panels"] if p["type"] == "row" and p["title"] in INFRA_ROWS]
    titles = {panel["title"] for row in rows for panel in row.get("panels", [])}
    assert len(rows) == len(INFRA_ROWS)
    assert len(titles) >= 12
    with stack.prometheus.client() as client:
        load = poll(
            lambda: run_dashboard(board, client, scrape_interval_s=1, include_collapsed=True),
            lambda load: all(
                q.series > 0 for p in load.panels if p.title in titles for q in p.queries
            ),
            timeout_s=40,
            every_s=2,
        )
    assert load.errors == []
    empty = [(p.title, q.expr) for p in load.panels if p.title in titles for q in p.queries]
    assert [e for e in empty if not _has_data(load, e)] == []
    assert titles <= {p.title for p in load.panels}


def _has_data(load: Any, entry: tuple[str, str]) -> bool:
    title, expr = entry
    return any(
        q.series > 0 for p in load.panels if p.title == title for q in p.queries if q.expr == expr
    )


def test_redis_stopped_fires_redis_down(stack: InfraStack) -> None:
    stack.redis.stop()
    try:
        firing = _wait_firing(stack, "RedisDown")
        assert firing[0]["metric"]["job"] == "redis"
        # The sim degraded, it did not stop: auth answers 503 for sessions.
        wait_for(
            lambda: stack.query(
                'rate(acgs_http_requests_total{service="auth", status_code="503"}[5s]) > 0'
            ),
            30,
            "auth to answer 503",
        )
    finally:
        stack.redis.start()
    wait_for(lambda: not _firing(stack, "RedisDown"), 60, "RedisDown to resolve", every_s=0.5)


def test_postgres_stopped_fires_postgresql_down(stack: InfraStack) -> None:
    stack.postgres.halt()
    try:
        firing = _wait_firing(stack, "PostgreSQLDown")
        assert firing[0]["metric"]["job"] == "postgres"
        wait_for(
            lambda: stack.query(
                'rate(acgs_http_requests_total{service="pgc", status_code="503"}[5s]) > 0'
            ),
            30,
            "pgc to answer 503",
        )
    finally:
        stack.postgres.resume()
    wait_for(lambda: not _firing(stack, "PostgreSQLDown"), 60, "PostgreSQLDown to resolve")


def test_service_down_fires_haproxy_backend_down(stack: InfraStack) -> None:
    control = f"{stack.sim.url('ec')}/control/faults"
    httpx.post(control, json={"fault": "unresponsive", "value": 600}).raise_for_status()
    try:
        firing = _wait_firing(stack, "HAProxyBackendDown")
        assert [a["metric"]["proxy"] for a in firing] == ["acgs_ec"]
    finally:
        httpx.delete(control).raise_for_status()
    wait_for(lambda: not _firing(stack, "HAProxyBackendDown"), 60, "HAProxyBackendDown to end")


def test_slow_backend_crosses_the_slow_threshold(stack: InfraStack) -> None:
    # The alert's `for: 2m` is promtool's to test (rules/tests/infrastructure.test.yml); here:
    # its expression becomes true for the slowed backend, and only for it.
    control = f"{stack.sim.url('integrity')}/control/faults"
    httpx.post(control, json={"fault": "slow_backend", "value": 3}).raise_for_status()
    try:
        slow = wait_for(
            lambda: stack.query(_alerts()["HAProxyBackendSlow"]), 120, "HAProxyBackendSlow's expr"
        )
        assert [s["metric"]["proxy"] for s in slow] == ["acgs_integrity"]
        pending = wait_for(
            lambda: stack.query('ALERTS{alertname="HAProxyBackendSlow"}'), 10, "pending"
        )
        assert [a["metric"]["alertstate"] for a in pending] == ["pending"]
    finally:
        httpx.delete(control).raise_for_status()
