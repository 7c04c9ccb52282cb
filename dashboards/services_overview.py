"""ACGS services overview: is every service up, and its RED (rate, errors, duration)."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db

from acgs_dashboards.builders import (
    HTTP_DURATION,
    HTTP_REQUESTS,
    SERVICE_MATCHER,
    Query,
    error_ratio,
    new_dashboard,
    quantile_panel,
    rate,
    red_row,
    service_variable,
    stat_panel,
    timeseries,
)


def build() -> db.Dashboard:
    board = new_dashboard(
        "acgs-services-overview",
        "ACGS services overview",
        "Health and RED metrics (rate, errors, duration) of the seven ACGS services.",
        tags=["overview"],
        variables=[service_variable()],
    )
    board.with_row(db.Row("Health"))
    board.with_panel(
        stat_panel(
            "Service up",
            "Whether Prometheus' last scrape of each ACGS service succeeded (job acgs-<service>).",
            Query('up{job=~"acgs-$service"}', legend="{{job}}", instant=True),
            unit="bool_yes_no",
            steps=((None, "red"), (1, "green")),
            width=24,
        )
    )
    board.with_row(db.Row("All services"))
    board.with_panel(
        timeseries(
            "Request rate",
            "HTTP requests per second, by service.",
            Query(rate(HTTP_REQUESTS.name, by=("service",)), legend="{{service}}"),
            unit="reqps",
            width=8,
        )
    )
    board.with_panel(
        timeseries(
            "Error ratio",
            "Share of HTTP requests answered with a 5xx status, by service.",
            Query(error_ratio(by=("service",)), legend="{{service}}"),
            unit="percentunit",
            min_value=0,
            limit=0.01,
            width=8,
        )
    )
    board.with_panel(
        quantile_panel(
            HTTP_DURATION,
            "p95 latency",
            "95th percentile of HTTP request duration by service; the line is the 500 ms target.",
            quantiles=(0.95,),
            limit=0.5,
            width=8,
        )
    )
    board.with_panel(
        timeseries(
            "Requests in flight",
            "HTTP requests being served right now, by service.",
            Query(
                f"sum by (service) (acgs_http_requests_in_flight{{{SERVICE_MATCHER}}})",
                legend="{{service}}",
            ),
            unit="short",
            width=24,
            height=6,
        )
    )
    return red_row(board)
