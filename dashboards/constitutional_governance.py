"""Constitutional governance: compliance, policy synthesis and the cost of governance actions."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db

from acgs_dashboards.builders import (
    SERVICE_MATCHER,
    Query,
    gauge,
    new_dashboard,
    quantile_panel,
    rate,
    service_variable,
    timeseries,
    unit_for,
)
from acgs_metrics import CATALOG

COMPLIANCE = CATALOG["acgs_constitutional_compliance_score"]
SYNTHESIS_DURATION = CATALOG["acgs_policy_synthesis_duration_seconds"]
SYNTHESIS_OPERATIONS = CATALOG["acgs_policy_synthesis_operations_total"]
ACTION_COST = CATALOG["acgs_governance_action_cost_sol"]
ACTIONS = CATALOG["acgs_governance_actions_total"]
DECISIONS = CATALOG["acgs_governance_decisions_total"]
DECISION_DURATION = CATALOG["acgs_governance_decision_duration_seconds"]
VALIDATIONS = CATALOG["acgs_constitutional_validations_total"]
# Compliance below this is alerted on (ACGSComplianceScoreLow).
COMPLIANCE_FLOOR = 0.8
NOT_SUCCESS = f'{SERVICE_MATCHER}, result!="success"'


def build() -> db.Dashboard:
    board = new_dashboard(
        "acgs-constitutional-governance",
        "ACGS constitutional governance",
        "Constitutional compliance by service and principle, policy synthesis and the cost "
        "of governance actions.",
        tags=["governance"],
        variables=[service_variable(COMPLIANCE.name)],
    )
    board.with_row(db.Row("Constitutional compliance"))
    board.with_panel(
        gauge(
            "Lowest compliance score",
            "The lowest compliance score of any principle in the selected services (0 to 1).",
            Query(f"min({COMPLIANCE.name}{{{SERVICE_MATCHER}}})", instant=True),
            unit="percentunit",
            steps=((None, "red"), (COMPLIANCE_FLOOR, "orange"), (0.95, "green")),
        )
    )
    board.with_panel(
        timeseries(
            "Compliance score by service",
            "Lowest compliance score across principles, per service; the line is the alert floor.",
            Query(
                f"min by (service) ({COMPLIANCE.name}{{{SERVICE_MATCHER}}})",
                legend="{{service}}",
            ),
            unit="percentunit",
            min_value=0,
            max_value=1,
            limit=COMPLIANCE_FLOOR,
            width=18,
        )
    )
    board.with_panel(
        timeseries(
            "Compliance score by principle",
            "Compliance score of each constitutional principle, averaged over services.",
            Query(
                f"avg by (principle_id) ({COMPLIANCE.name}{{{SERVICE_MATCHER}}})",
                legend="{{principle_id}}",
            ),
            unit="percentunit",
            min_value=0,
            max_value=1,
            width=24,
        )
    )
    board.with_row(db.Row("Policy synthesis"))
    board.with_panel(
        timeseries(
            "Synthesis rate by type",
            "Policy synthesis operations per second, by synthesis type.",
            Query(
                rate(SYNTHESIS_OPERATIONS.name, by=("synthesis_type",)), legend="{{synthesis_type}}"
            ),
            unit="ops",
        )
    )
    board.with_panel(
        timeseries(
            "Synthesis outcomes",
            "Policy synthesis operations per second, by how they ended.",
            Query(rate(SYNTHESIS_OPERATIONS.name, by=("result",)), legend="{{result}}"),
            unit="ops",
            stacked=True,
        )
    )
    board.with_panel(
        quantile_panel(
            SYNTHESIS_DURATION,
            "Synthesis duration by type",
            "p50, p95 and p99 of policy synthesis time, by synthesis type.",
            by=("synthesis_type",),
            width=24,
        )
    )
    board.with_row(db.Row("Governance actions and decisions"))
    board.with_panel(
        timeseries(
            "Action cost by type",
            "Cost in SOL of the latest governance action of each type (highest across services).",
            Query(
                f"max by (action_type) ({ACTION_COST.name}{{{SERVICE_MATCHER}}})",
                legend="{{action_type}}",
            ),
            unit=unit_for(ACTION_COST),
        )
    )
    board.with_panel(
        timeseries(
            "Actions by type",
            "Governance actions submitted per second, by action type.",
            Query(rate(ACTIONS.name, by=("action_type",)), legend="{{action_type}}"),
            unit="ops",
        )
    )
    board.with_panel(
        timeseries(
            "Decisions by outcome",
            "Governance decisions per second, by outcome.",
            Query(rate(DECISIONS.name, by=("outcome",)), legend="{{outcome}}"),
            unit="ops",
            stacked=True,
        )
    )
    board.with_panel(
        quantile_panel(
            DECISION_DURATION,
            "Decision duration by type",
            "p95 time from submission to decision, by decision type.",
            by=("decision_type",),
            quantiles=(0.95,),
        )
    )
    board.with_panel(
        timeseries(
            "Validation failure ratio",
            "Share of constitutional validations that did not succeed, by service (a gap "
            "where a service validated nothing).",
            Query(
                # `> 0`: no validations in the interval is a gap, not 0/0 = NaN.
                f"{rate(VALIDATIONS.name, NOT_SUCCESS, by=('service',))}"
                f" / ({rate(VALIDATIONS.name, by=('service',))} > 0)",
                legend="{{service}}",
            ),
            unit="percentunit",
            min_value=0,
            width=24,
        )
    )
    return board
