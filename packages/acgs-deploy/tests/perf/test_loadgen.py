"""The load generator against a real Prometheus with TLS and basic auth."""

from __future__ import annotations

import dataclasses

import pytest

from acgs_deploy.client import Endpoint
from acgs_deploy.perf.dashload import measure_dashboards
from acgs_deploy.perf.loadgen import NotLoopback, run_load
from acgs_deploy.perf.querymix import QueryRequest, query_mix
from acgs_deploy.perf.stats import summarize
from acgs_testkit.ports import free_port

from ..conftest import Stack

DASHBOARD = {
    "title": "Test",
    "time": {"from": "now-5m", "to": "now"},
    "templating": {"list": [{"name": "job", "type": "query", "query": "label_values(up, job)",
                             "includeAll": True, "multi": True,
                             "current": {"value": ["$__all"]}}]},
    "panels": [
        {"id": 1, "title": "Up", "type": "stat",
         "targets": [{"refId": "A", "expr": 'up{job=~"$job"}', "instant": True}]},
        {"id": 2, "title": "Rate", "type": "timeseries",
         "targets": [{"refId": "A",
                      "expr": "rate(prometheus_http_requests_total[$__rate_interval])"}]},
    ],
}  # fmt: skip


def test_mix_follows_the_dashboard(stack: Stack) -> None:
    with stack.prometheus.client() as client:
        timings, loads = measure_dashboards([DASHBOARD], client, runs=3, scrape_interval_s=1)
    mix = query_mix([DASHBOARD], loads)
    assert [(q.kind, q.path) for q in mix] == [
        ("instant", "/api/v1/query"),
        ("range", "/api/v1/query_range"),
    ]
    # Variables expanded as Grafana does: "All" lists every job that Prometheus knows.
    assert "$" not in mix[0].expr + mix[1].expr
    assert "acgs-test" in mix[0].expr
    assert mix[1].range_s == 300
    assert len(timings[0].totals_ms) == 3
    assert timings[0].queries == 2
    assert timings[0].errors == []
    assert timings[0].passed


def test_users_get_answers_through_tls_and_auth(stack: Stack) -> None:
    with stack.prometheus.client() as client:
        _, loads = measure_dashboards([DASHBOARD], client, runs=1, scrape_interval_s=1)
    mix = query_mix([DASHBOARD], loads)
    progress_calls: list[tuple[float, int]] = []
    result = run_load(
        stack.prometheus, mix, users=50, duration_s=2.0, think_s=0.1,
        progress=lambda elapsed, done: progress_calls.append((elapsed, done)),
    )  # fmt: skip
    summary = summarize(result.samples)
    assert summary.count > 50
    assert summary.success_rate == 1.0, {s.error for s in result.samples}
    assert {s.kind for s in result.samples} == {"instant", "range"}
    assert 0 < summary.p50_ms <= summary.p95_ms <= summary.p99_ms <= summary.max_ms
    assert 1.5 < result.duration_s < 5.0
    assert result.cpu_s > 0
    assert progress_calls[-1][1] == len(result.samples)


def test_wrong_password_counts_as_failure(stack: Stack) -> None:
    wrong = dataclasses.replace(stack.prometheus, password="wrong")
    mix = [QueryRequest("instant", "up")]
    result = run_load(wrong, mix, users=5, duration_s=1.0, think_s=0.05)
    assert result.samples
    assert summarize(result.samples).success_rate == 0.0


def test_request_budget_bounds_the_run(stack: Stack) -> None:
    mix = [QueryRequest("instant", "up")]
    result = run_load(stack.prometheus, mix, users=10, duration_s=30.0, think_s=0.01,
                      max_requests=40)  # fmt: skip
    assert len(result.samples) == 40
    assert result.duration_s < 10


def test_refuses_targets_off_loopback() -> None:
    with pytest.raises(NotLoopback, match="only sent to loopback"):
        run_load(Endpoint("http://192.0.2.10:9090"), [QueryRequest("instant", "up")], 1, 1.0)


def test_more_users_than_pooled_connections(stack: Stack) -> None:
    mix = [QueryRequest("instant", "up"), QueryRequest("range", "up", range_s=60)]
    result = run_load(stack.prometheus, mix, users=30, duration_s=2.0, think_s=0.05,
                      connections=3)  # fmt: skip
    summary = summarize(result.samples)
    assert summary.count > 60
    assert summary.success_rate == 1.0, {s.error for s in result.samples}


def test_bad_arguments_are_named() -> None:
    endpoint = Endpoint("http://127.0.0.1:1")
    mix = [QueryRequest("instant", "up")]
    with pytest.raises(ValueError, match="users must be at least 1"):
        run_load(endpoint, mix, users=0, duration_s=1.0)
    with pytest.raises(ValueError, match="connections must be at least 1"):
        run_load(endpoint, mix, users=1, duration_s=1.0, connections=0)
    with pytest.raises(ValueError, match="query mix is empty"):
        run_load(endpoint, [], users=1, duration_s=1.0)


def test_refused_connections_count_as_failures() -> None:
    endpoint = Endpoint(f"http://127.0.0.1:{free_port()}")
    result = run_load(endpoint, [QueryRequest("instant", "up")], users=2, duration_s=0.5,
                      think_s=0.05)  # fmt: skip
    assert result.samples
    assert {s.error for s in result.samples} == {"ConnectionRefusedError"}
