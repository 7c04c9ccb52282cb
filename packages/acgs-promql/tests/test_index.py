"""The metric index: catalog, exporter lists and recording rules, with types and labels."""

from __future__ import annotations

from acgs_promql.expression import Expression, Role
from acgs_promql.index import MetricIndex, RecordedSeries, known_lists


def test_known_lists_cover_every_exporter() -> None:
    lists = known_lists()
    assert set(lists) == {
        "alertmanager",
        "builtin",
        "haproxy_exporter",
        "node_exporter",
        "postgres_exporter",
        "prometheus",
        "redis_exporter",
    }
    assert lists["node_exporter"]["node_cpu_seconds_total"] == "counter"
    assert lists["prometheus"]["prometheus_rule_evaluation_failures_total"] == "counter"
    assert lists["alertmanager"]["alertmanager_notifications_failed_total"] == "counter"
    assert lists["builtin"]["up"] == "gauge"
    assert all(len(families) >= 10 for families in lists.values())


def test_catalog_histograms_expand_to_their_series() -> None:
    index = MetricIndex(recorded=[RecordedSeries("job:x:rate5m", Expression("x", Role.RECORD))])
    bucket = index.get("acgs_http_request_duration_seconds_bucket")
    assert bucket is not None
    assert bucket.type == "counter"
    assert bucket.labels is not None
    assert "le" in bucket.labels
    assert "service" in bucket.labels
    # A classic histogram has no series under its own name.
    assert index.get("acgs_http_request_duration_seconds") is None
    assert index.is_counter("acgs_http_request_duration_seconds_count") is True
    assert index.is_counter("acgs_active_sessions") is False
    assert index.is_counter("job:x:rate5m") is None
    assert index.get("acgs_http_requests_created") is not None


def test_exporter_histograms_and_summaries() -> None:
    index = MetricIndex()
    assert index.is_counter("prometheus_http_request_duration_seconds_bucket") is True
    assert index.is_counter("go_gc_duration_seconds_count") is True
    summary = index.get("go_gc_duration_seconds")
    assert summary is not None
    assert summary.type == "summary"
    assert index.is_counter("go_gc_duration_seconds") is False  # quantiles, not a counter
