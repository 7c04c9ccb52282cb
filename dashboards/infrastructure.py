"""Infrastructure: the nodes (node_exporter), and HAProxy, Redis and PostgreSQL when present.

The HAProxy, Redis and PostgreSQL rows are collapsed: their exporters are optional, and
Grafana runs no query of a collapsed row until someone opens it.
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
    board.with_row(
        _optional_row(
            "HAProxy",
            [
                timeseries(
                    "HAProxy frontend sessions",
                    "Current sessions per HAProxy frontend.",
                    Query(
                        "sum by (frontend) (haproxy_frontend_current_sessions)",
                        legend="{{frontend}}",
                    ),
                    unit="short",
                ),
                timeseries(
                    "HAProxy 5xx responses",
                    "HTTP responses with a 5xx code per second, per backend.",
                    Query(
                        "sum by (backend) (rate(haproxy_backend_http_responses_total"
                        '{code="5xx"}[$__rate_interval]))',
                        legend="{{backend}}",
                    ),
                    unit="reqps",
                ),
            ],
        )
    )
    board.with_row(
        _optional_row(
            "Redis",
            [
                timeseries(
                    "Redis memory used",
                    "Memory Redis has allocated.",
                    Query("redis_memory_used_bytes", legend="{{instance}}"),
                    unit="bytes",
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
            ],
        )
    )
    board.with_row(
        _optional_row(
            "PostgreSQL",
            [
                timeseries(
                    "PostgreSQL connections",
                    "Backends connected to each database.",
                    Query("sum by (datname) (pg_stat_database_numbackends)", legend="{{datname}}"),
                    unit="short",
                ),
                timeseries(
                    "PostgreSQL database size",
                    "Size of each database on disk.",
                    Query("pg_database_size_bytes", legend="{{datname}}"),
                    unit="bytes",
                ),
            ],
        )
    )
    return board
