"""Service level objectives: availability against 99.9 %, error budget left, burn rate."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db

from acgs_dashboards.builders import (
    Query,
    availability,
    new_dashboard,
    service_variable,
    slo_panels,
    timeseries,
)

OBJECTIVE = 0.999
WINDOW = "30d"  # the objective's window; the burn-rate thresholds assume it


def build() -> db.Dashboard:
    board = new_dashboard(
        "acgs-slo",
        "ACGS SLO",
        "Availability of the ACGS services against the 99.9 % objective: error budget left "
        "and how fast it burns.",
        tags=["slo"],
        variables=[service_variable()],
        time_from="now-7d",
    )
    slo_panels(board, objective=OBJECTIVE, window=WINDOW)
    board.with_panel(
        timeseries(
            "Availability by service (1h)",
            "Share of non-5xx HTTP requests over the last hour, per service; the line is 99.9 %.",
            Query(availability(interval="1h", by=("service",)), legend="{{service}}"),
            unit="percentunit",
            limit=OBJECTIVE,
            width=24,
        )
    )
    return board
