"""Infrastructure: the nodes (node_exporter), and HAProxy, Redis and PostgreSQL when present.

The HAProxy, Redis and PostgreSQL rows are collapsed: their exporters are optional, and
Grafana runs no query of a collapsed row until someone opens it. Their queries use the metric
names of HAProxy 2.6's native exporter (label ``proxy``), redis_exporter 1.45 and
postgres_exporter 0.11, as the demo stack runs them (a queryload test runs every one of them
against those real exporters).
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import timeseries as timeseries_builder

from acgs_dashboards.builders import (
    Query,
    instance_variable,
    job_variable,
    new_dashboard,
    timeseries,
)

NODE = 'instance=~"$instance"'
# overlay stays: it is the root filesystem inside containers.
FILESYSTEMS = f'{NODE}, fstype!~"tmpfs|squashfs|nsfs"'


def _optional_row(title: str, panels: list[timeseries_builder.Panel]) -> db.Row:
    row = db.Row(title).collapsed(True)
    for panel in panels:
        row.with_panel(panel)
    return row


def build() -> db.Dashboard:
    board = new_dashboard(
        "acgs-infrastructure",
        "ACGS infrastructure",
        "Hosts running the ACGS services and the monitoring stack; HAProxy, Redis and "
        "PostgreSQL when their exporters are deployed.",
        tags=["infrastructure"],
        variables=[job_variable("node_uname_info"), instance_variable("node_uname_info")],
    )
    board.with_row(db.Row("Nodes"))
    board.with_panel(
        timeseries(
            "CPU busy",
            "Share of CPU time not idle, averaged over the node's cores.",
            Query(
                "1 - avg by (instance) "
                f'(rate(node_cpu_seconds_total{{{NODE}, mode="idle"}}[$__rate_interval]))',
                legend="{{instance}}",
            ),
            unit="percentunit",
            min_value=0,
            max_value=1,
            width=8,
        )
    )
    board.with_panel(
        timeseries(
            "Memory used",
            "Share of memory not available to new processes (MemAvailable).",
            Query(
                f"1 - node_memory_MemAvailable_bytes{{{NODE}}}"
                f" / node_memory_MemTotal_bytes{{{NODE}}}",
                legend="{{instance}}",
            ),
            unit="percentunit",
            min_value=0,
            max_value=1,
            width=8,
        )
    )
    board.with_panel(
        timeseries(
            "Load average (1m)",
            "Runnable and uninterruptible tasks, averaged over one minute.",
            Query(f"node_load1{{{NODE}}}", legend="{{instance}}"),
            unit="short",
            width=8,
        )
    )
    board.with_panel(
        timeseries(
            "Disk space used",
            "Share of each real filesystem in use.",
            Query(
                f"1 - node_filesystem_avail_bytes{{{FILESYSTEMS}}}"
                f" / node_filesystem_size_bytes{{{FILESYSTEMS}}}",
                legend="{{instance}} {{mountpoint}}",
            ),
            unit="percentunit",
            min_value=0,
            max_value=1,
            limit=0.85,
            width=8,
        )
    )
    board.with_panel(
        timeseries(
            "Disk busy",
            "Share of time each disk was busy with I/O.",
            Query(
                f"rate(node_disk_io_time_seconds_total{{{NODE}}}[$__rate_interval])",
                legend="{{instance}} {{device}}",
            ),
            unit="percentunit",
            min_value=0,
            width=8,
        )
    )
    board.with_panel(
        timeseries(
            "Network traffic",
            "Bytes per second received and sent, all interfaces but loopback.",
            Query(
                "sum by (instance) (rate(node_network_receive_bytes_total"
                f'{{{NODE}, device!="lo"}}[$__rate_interval]))',
                legend="{{instance}} received",
            ),
            Query(
                "sum by (instance) (rate(node_network_transmit_bytes_total"
                f'{{{NODE}, device!="lo"}}[$__rate_interval]))',
                legend="{{instance}} sent",
            ),
            unit="Bps",
            width=8,
        )
    )
    board.with_row(_optional_row("HAProxy", _haproxy_panels()))
    board.with_row(_optional_row("Redis", _redis_panels()))
    board.with_row(_optional_row("PostgreSQL", _postgres_panels()))
    return board


def _haproxy_panels() -> list[timeseries_builder.Panel]:
    return [
        timeseries(
            "HAProxy request rate",
            "HTTP requests per second through each backend (one per ACGS service).",
            Query(
                "sum by (proxy) (rate(haproxy_backend_http_requests_total[$__rate_interval]))",
                legend="{{proxy}}",
            ),
            unit="reqps",
        ),
        timeseries(
            "HAProxy 5xx responses",
            "HTTP responses with a 5xx code per second, per backend (the service's own "
            "errors and HAProxy's 503s when no server is up).",
            Query(
                "sum by (proxy) (rate(haproxy_backend_http_responses_total"
                '{code="5xx"}[$__rate_interval]))',
                legend="{{proxy}}",
            ),
            unit="reqps",
        ),
        timeseries(
            "HAProxy servers up",
            "Servers of each backend passing their health check (0: HAProxy answers 503).",
            Query("sum by (proxy) (haproxy_backend_active_servers)", legend="{{proxy}}"),
            unit="short",
            min_value=0,
        ),
        timeseries(
            "HAProxy backend response time",
            "Average response time of each backend's servers over their last requests.",
            Query("haproxy_backend_response_time_average_seconds", legend="{{proxy}}"),
            unit="s",
            min_value=0,
            limit=1,
        ),
        timeseries(
            "HAProxy frontend sessions",
            "Current client sessions per HAProxy frontend.",
            Query("sum by (proxy) (haproxy_frontend_current_sessions)", legend="{{proxy}}"),
            unit="short",
        ),
    ]


def _redis_panels() -> list[timeseries_builder.Panel]:
    return [
        timeseries(
            "Redis up",
            "1 while redis_exporter reaches Redis.",
            Query("redis_up", legend="{{instance}}"),
            unit="short",
            min_value=0,
            max_value=1,
        ),
        timeseries(
            "Redis commands",
            "Commands processed per second.",
            Query(
                "rate(redis_commands_processed_total[$__rate_interval])",
                legend="{{instance}}",
            ),
            unit="ops",
        ),
        timeseries(
            "Redis cache hit ratio",
            "Share of key lookups that found their key (principle cache, sessions).",
            Query(
                "rate(redis_keyspace_hits_total[$__rate_interval]) / "
                "(rate(redis_keyspace_hits_total[$__rate_interval])"
                " + rate(redis_keyspace_misses_total[$__rate_interval]))",
                legend="{{instance}}",
            ),
            unit="percentunit",
            min_value=0,
            max_value=1,
        ),
        timeseries(
            "Redis memory used",
            "Memory Redis has allocated.",
            Query("redis_memory_used_bytes", legend="{{instance}}"),
            unit="bytes",
        ),
        timeseries(
            "Redis clients",
            "Connected clients.",
            Query("redis_connected_clients", legend="{{instance}}"),
            unit="short",
        ),
    ]


def _postgres_panels() -> list[timeseries_builder.Panel]:
    return [
        timeseries(
            "PostgreSQL up",
            "1 while postgres_exporter reaches PostgreSQL.",
            Query("pg_up", legend="{{instance}}"),
            unit="short",
            min_value=0,
            max_value=1,
        ),
        timeseries(
            "PostgreSQL transactions",
            "Commits and rollbacks per second, per database.",
            Query(
                'sum by (datname) (rate(pg_stat_database_xact_commit{datname!=""}'
                "[$__rate_interval]))",
                legend="{{datname}} commits",
            ),
            Query(
                'sum by (datname) (rate(pg_stat_database_xact_rollback{datname!=""}'
                "[$__rate_interval]))",
                legend="{{datname}} rollbacks",
            ),
            unit="ops",
        ),
        timeseries(
            "PostgreSQL rows inserted",
            "Rows inserted per second, per database (governance actions and decisions).",
            Query(
                'sum by (datname) (rate(pg_stat_database_tup_inserted{datname!=""}'
                "[$__rate_interval]))",
                legend="{{datname}}",
            ),
            unit="short",
        ),
        timeseries(
            "PostgreSQL connections",
            "Backends connected to each database.",
            Query(
                'sum by (datname) (pg_stat_database_numbackends{datname!=""})',
                legend="{{datname}}",
            ),
            unit="short",
        ),
        timeseries(
            "PostgreSQL database size",
            "Size of each database on disk.",
            Query("pg_database_size_bytes", legend="{{datname}}"),
            unit="bytes",
        ),
    ]
