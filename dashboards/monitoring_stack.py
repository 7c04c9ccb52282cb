"""The monitoring stack itself: scrapes, queries, rule evaluation, notifications, overhead.

The guide's targets: scrapes under 100 ms, queries under 500 ms.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db

from acgs_dashboards.builders import Query, job_variable, new_dashboard, timeseries

JOB = 'job=~"$job"'
SCRAPE_TARGET_S = 0.1
QUERY_TARGET_S = 0.5


def build() -> db.Dashboard:
    board = new_dashboard(
        "acgs-monitoring-stack",
        "ACGS monitoring stack",
        "Prometheus, Alertmanager and the exporters: scrape and query latency against the "
        "guide's 100 ms and 500 ms targets, rule evaluation, notifications and overhead.",
        tags=["monitoring"],
        variables=[job_variable()],
    )
    board.with_row(db.Row("Scrapes"))
    board.with_panel(
        timeseries(
            "Scrape duration",
            "Slowest scrape per job; the line is the 100 ms target.",
            Query(f"max by (job) (scrape_duration_seconds{{{JOB}}})", legend="{{job}}"),
            unit="s",
            limit=SCRAPE_TARGET_S,
        )
    )
    board.with_panel(
        timeseries(
            "Targets up",
            "Share of each job's targets whose last scrape succeeded.",
            Query(f"avg by (job) (up{{{JOB}}})", legend="{{job}}"),
            unit="percentunit",
            min_value=0,
            max_value=1,
        )
    )
    board.with_row(db.Row("Queries"))
    board.with_panel(
        timeseries(
            "Query API latency (p95)",
            "95th percentile of Prometheus query API request duration; the line is 500 ms.",
            Query(
                "histogram_quantile(0.95, sum by (le, handler) "
                "(rate(prometheus_http_request_duration_seconds_bucket"
                '{handler=~"/api/v1/query|/api/v1/query_range"}[$__rate_interval])))',
                legend="{{handler}}",
            ),
            unit="s",
            limit=QUERY_TARGET_S,
        )
    )
    board.with_panel(
        timeseries(
            "Query engine time (p90)",
            "90th percentile of time the query engine spends per query phase.",
            Query(
                'max by (slice) (prometheus_engine_query_duration_seconds{quantile="0.9"})',
                legend="{{slice}}",
            ),
            unit="s",
            limit=QUERY_TARGET_S,
        )
    )
    board.with_row(db.Row("Rules and notifications"))
    board.with_panel(
        timeseries(
            "Rule group evaluation time",
            "Time the last evaluation of each rule group took.",
            Query(
                "max by (rule_group) (prometheus_rule_group_last_duration_seconds)",
                legend="{{rule_group}}",
            ),
            unit="s",
            width=8,
        )
    )
    board.with_panel(
        timeseries(
            "Rule evaluation failures",
            "Failed rule evaluations and missed group iterations per second.",
            Query(
                "sum(rate(prometheus_rule_evaluation_failures_total[$__rate_interval]))",
                legend="failures",
            ),
            Query(
                "sum(rate(prometheus_rule_group_iterations_missed_total[$__rate_interval]))",
                legend="missed iterations",
            ),
            unit="ops",
            width=8,
        )
    )
    board.with_panel(
        timeseries(
            "Notifications",
            "Alerts Prometheus sent to Alertmanager, and notifications Alertmanager sent "
            "and failed to send, per second.",
            Query(
                "sum(rate(prometheus_notifications_sent_total[$__rate_interval]))",
                legend="sent to Alertmanager",
            ),
            Query(
                "sum by (integration) (rate(alertmanager_notifications_total[$__rate_interval]))",
                legend="{{integration}} sent",
            ),
            Query(
                "sum by (integration) "
                "(rate(alertmanager_notifications_failed_total[$__rate_interval]))",
                legend="{{integration}} failed",
            ),
            unit="ops",
            width=8,
        )
    )
    board.with_row(db.Row("Overhead"))
    board.with_panel(
        timeseries(
            "CPU used",
            "CPU time used by each monitoring process, as a share of one core.",
            Query(
                f"rate(process_cpu_seconds_total{{{JOB}}}[$__rate_interval])",
                legend="{{job}} {{instance}}",
            ),
            unit="percentunit",
            width=8,
        )
    )
    board.with_panel(
        timeseries(
            "Resident memory",
            "Resident memory of each monitoring process.",
            Query(f"process_resident_memory_bytes{{{JOB}}}", legend="{{job}} {{instance}}"),
            unit="bytes",
            width=8,
        )
    )
    board.with_panel(
        timeseries(
            "Head series and ingestion",
            "Series in Prometheus' head block, and samples appended per second.",
            Query("sum(prometheus_tsdb_head_series)", legend="head series"),
            Query(
                "sum(rate(prometheus_tsdb_head_samples_appended_total[$__rate_interval]))",
                legend="samples/s",
            ),
            unit="short",
            width=8,
        )
    )
    board.with_panel(
        timeseries(
            "Cardinality overflow",
            "Label sets the ACGS metrics library folded into overflow series, per second.",
            Query(
                "sum by (metric) (rate(acgs_metrics_cardinality_overflow_total[$__rate_interval]))",
                legend="{{metric}}",
            ),
            unit="ops",
            width=24,
            height=6,
        )
    )
    return board
