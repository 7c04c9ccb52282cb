"""The metric index: catalog, exporter lists and recording rules, with types and labels."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

from acgs_promql.expression import Expression, Role
from acgs_promql.findings import Severity
from acgs_promql.index import MetricIndex, RecordedSeries, known_lists, read_recorded_series
from acgs_promql.sources.base import MetricFamily, MetricSource, Source
from acgs_promql.tree import VectorSelector


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


def _recorded(name: str, expr: str, **labels: str) -> RecordedSeries:
    return RecordedSeries(name, Expression(expr, Role.RECORD), labels)


def test_recorded_series_labels_follow_their_expressions() -> None:
    index = MetricIndex(
        recorded=[
            _recorded("job:errors:rate5m", "sum by (job) (rate(x_total[5m]))", team="core"),
            _recorded("job:errors:ratio", "job:errors:rate5m / 2"),
            _recorded("a:loop", "b:loop"),
            _recorded("b:loop", "a:loop"),
        ]
    )
    labels = index.selector_labels(VectorSelector(0, "job:errors:ratio"))
    assert labels is not None
    # job: kept by the sum; team: added by the rule (a closed set only says "may");
    # instance: summed away.
    assert (labels.has("job"), labels.has("team"), labels.has("instance")) == (None, None, False)
    assert index.selector_labels(VectorSelector(0, "x_total")) is None  # scraped: unknown
    assert index.selector_labels(VectorSelector(0, "a:loop")) is not None  # no endless loop
    assert index.base_metrics("job:errors:ratio") == {"x_total"}
    assert index.base_metrics("up") == {"up"}
    assert index.is_recorded("job:errors:ratio")
    assert index.get("job:errors:ratio") is not None


def test_suggestions_come_from_the_same_namespace() -> None:
    index = MetricIndex()
    assert index.suggestion("acgs_http_request_total") == "acgs_http_requests_total"
    assert index.suggestion("acgs_http_request_total") == "acgs_http_requests_total"  # cached
    assert index.suggestion("node_cpu_second_total") == "node_cpu_seconds_total"
    # A typo in the namespace itself finds nothing (a cheap lookup beats a full scan).
    assert index.suggestion("acsg_http_requests_total") is None


RULES = """\
groups:
  - name: g
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
        labels: {tier: "1"}
      - alert: Down
        expr: up == 0
      - record: broken
      - record: 5
        expr: up
"""
MANIFEST = """\
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata: {name: x}
spec:
  groups:
    - name: h
      rules:
        - {record: "instance:up:max", expr: "max by (instance) (up)"}
---
kind: ConfigMap
data: {groups: "not rules"}
"""


def test_read_recorded_series_from_rule_files_and_manifests(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "a.yml").write_text(RULES)
    (tmp_path / "rules" / "m.yaml").write_text(MANIFEST)
    (tmp_path / "rules" / "notes.txt").write_text("groups: [")
    read = read_recorded_series([tmp_path / "rules", tmp_path / "rules" / "a.yml"])
    assert [(s.name, s.expression.text, dict(s.labels)) for s in read.series] == [
        ("job:up:sum", "sum by (job) (up)", {"tier": "1"}),
        ("instance:up:max", "max by (instance) (up)", {}),
    ]
    assert read.findings == ()


def test_unreadable_rule_files_are_findings_with_lines(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("groups:\n- name: g\n  rules:\n  - record: x\n    expr: [\n")
    binary = tmp_path / "binary.yml"
    binary.write_bytes(b"\xff\xfe")
    read = read_recorded_series([broken, binary, tmp_path / "missing.yml"])
    found = {Path(f.path).name: f for f in read.findings}
    assert {(name, f.line, f.check, f.severity) for name, f in found.items()} == {
        ("broken.yml", 6, "rules/load", Severity.ERROR),
        ("binary.yml", 0, "rules/load", Severity.ERROR),
        ("missing.yml", 0, "rules/load", Severity.ERROR),
    }
    assert "invalid YAML" in found["broken.yml"].message
    assert "no such file" in found["missing.yml"].message
    assert read.series == ()


@dataclass(frozen=True)
class Families:
    """A source that knows a fixed list (the live linter's Prometheus implements the same)."""

    kind: Source
    found: tuple[MetricFamily, ...]

    def families(self, wanted: Collection[str]) -> Iterable[MetricFamily]:
        return self.found


def test_sources_rank_in_order_and_conventions_only_guess() -> None:
    code = Families(Source.CODE, (MetricFamily("shop_depth", "gauge", frozenset({"q"}), "m.py:3"),))
    live = Families(
        Source.LIVE,
        (
            MetricFamily("shop_depth", "counter", None, "http://p"),
            MetricFamily("shop_seen_total", "counter", None, "http://p"),
            MetricFamily("node_cpu_seconds_total", "gauge", None, "http://p"),
        ),
    )
    assert isinstance(live, MetricSource)
    index = MetricIndex(sources=[live, code])  # given out of order: ranked by kind
    depth = index.get("shop_depth")
    assert depth is not None
    assert (depth.type, depth.origin, depth.labels) == (
        "gauge",
        "service code m.py:3",
        frozenset({"q"}),
    )
    seen = index.get("shop_seen_total")
    assert seen is not None
    assert seen.origin == "live Prometheus http://p"
    exporter = index.get("node_cpu_seconds_total")  # the exporter list ranks first
    assert exporter is not None
    assert (exporter.type, exporter.origin) == ("counter", "exporter list node_exporter")
    # Conventions: a type for the checks, never a known metric.
    assert index.get("shop_other_total") is None
    guessed = index.typed("shop_other_total")
    assert guessed is not None
    assert (guessed.type, guessed.guessed) == ("counter", True)
    assert index.is_counter("shop_other_total") is True
    assert index.typed("shop_other") is None
    assert index.typed("job:x:rate5m") is None  # recorded names hold what their rule computes


def test_a_foreign_definition_of_a_catalog_name_is_not_the_catalogs() -> None:
    same = MetricFamily("acgs_active_sessions", "gauge", frozenset({"service"}), "a.py:1")
    other = MetricFamily("acgs_active_sessions", "gauge", frozenset({"tenant"}), "b.py:1")
    kept = MetricIndex(sources=[Families(Source.CODE, (same,))]).get("acgs_active_sessions")
    replaced = MetricIndex(sources=[Families(Source.CODE, (other,))]).get("acgs_active_sessions")
    assert kept is not None
    assert kept.source is Source.CATALOG
    assert replaced is not None
    assert (replaced.source, replaced.labels) == (Source.CODE, frozenset({"tenant"}))


def test_code_histograms_are_classic_and_counters_have_created() -> None:
    source = Families(
        Source.CODE,
        (
            MetricFamily("shop_latency_seconds", "histogram", frozenset({"step"}), "m.py:1"),
            MetricFamily("shop_orders_total", "counter", frozenset(), "m.py:2"),
            MetricFamily("shop_build", "info", None, "m.py:3"),
        ),
    )
    index = MetricIndex(sources=[source])
    bucket = index.get("shop_latency_seconds_bucket")
    assert bucket is not None
    assert bucket.labels == frozenset({"step", "le"})
    assert index.get("shop_latency_seconds") is None  # no series under a classic family
    assert index.get("shop_orders_created") is not None
    assert index.get("shop_build_info") is not None
