"""The ACGS metric catalog: the single truth about every ACGS metric.

:data:`CATALOG` lists each metric the ACGS services expose. The instruments, the simulator,
the rule and dashboard linters and the dashboards all read it; nothing else repeats a
metric's definition. What a spec may say, and the rules it is checked against when this
module loads, live in :mod:`acgs_metrics.schema`.
"""

from __future__ import annotations

from acgs_metrics.schema import Catalog, GaugeMode, LabelSpec, MetricSpec, MetricType, Unit
from acgs_metrics.services import SERVICE_NAMES

__all__ = ["CATALOG", "FAST_BUCKETS", "HTTP_BUCKETS", "SYNTHESIS_BUCKETS"]

# Durations of HTTP handling: the guide's targets sit at 100 ms and 500 ms.
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Policy synthesis and formal verification take seconds to minutes.
SYNTHESIS_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
# Validations and hash checks are fast.
FAST_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)

_service = LabelSpec(name="service", description="ACGS service", values=SERVICE_NAMES)
_principle = LabelSpec(
    name="principle_id",
    description="constitutional principle identifier",
    pattern=r"[A-Za-z0-9_.:-]{1,64}",
    max_values=64,
    example="P-001",
)
_synthesis_type = LabelSpec(
    name="synthesis_type",
    description="kind of policy synthesis",
    values=("constitutional", "regulatory", "operational", "emergency"),
)
_result = LabelSpec(
    name="result", description="how the operation ended", values=("success", "failure", "timeout")
)
_endpoint = LabelSpec(
    name="endpoint",
    description="route template of the request (never the raw path)",
    pattern=r"/[A-Za-z0-9_./{}:-]{0,127}",
    max_values=100,
    example="/api/v1/policies/{policy_id}",
)
_method = LabelSpec(
    name="method",
    description="HTTP method",
    values=("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"),
)
_status_code = LabelSpec(
    name="status_code",
    description="HTTP status code",
    pattern=r"[1-5][0-9]{2}",
    max_values=60,
    example="200",
)
_action_type = LabelSpec(
    name="action_type",
    description="kind of governance action",
    values=("proposal", "vote", "amendment", "enforcement", "appeal", "audit"),
)
_decision_type = LabelSpec(
    name="decision_type",
    description="kind of governance decision",
    values=("policy_approval", "amendment", "enforcement", "appeal"),
)
_outcome = LabelSpec(
    name="outcome",
    description="decision outcome",
    values=("approved", "rejected", "escalated"),
)

CATALOG = Catalog(
    metrics=(
        # Constitutional governance: the metrics the guide names.
        MetricSpec(
            name="acgs_constitutional_compliance_score",
            type=MetricType.GAUGE,
            help="Constitutional compliance score per principle, from 0 (none) to 1 (full).",
            labels=(_service, _principle),
            value_range=(0.0, 1.0),
        ),
        MetricSpec(
            name="acgs_policy_synthesis_duration_seconds",
            type=MetricType.HISTOGRAM,
            help="Time to synthesise a policy.",
            unit=Unit.SECONDS,
            labels=(_service, _synthesis_type),
            buckets=SYNTHESIS_BUCKETS,
        ),
        MetricSpec(
            name="acgs_policy_synthesis_operations_total",
            type=MetricType.COUNTER,
            help="Policy synthesis operations, by how they ended.",
            labels=(_service, _synthesis_type, _result),
        ),
        MetricSpec(
            name="acgs_governance_action_cost_sol",
            type=MetricType.GAUGE,
            help="Cost of the latest governance action of each type, in SOL.",
            unit=Unit.SOL,
            labels=(_action_type, _service),
            value_range=(0.0, 1000.0),
        ),
        MetricSpec(
            name="acgs_governance_actions_total",
            type=MetricType.COUNTER,
            help="Governance actions submitted.",
            labels=(_action_type, _service),
        ),
        MetricSpec(
            name="acgs_constitutional_validations_total",
            type=MetricType.COUNTER,
            help="Constitutional validations of proposals and policies, by result.",
            labels=(_service, _result),
        ),
        MetricSpec(
            name="acgs_constitutional_validation_duration_seconds",
            type=MetricType.HISTOGRAM,
            help="Time to validate a proposal or policy against the constitution.",
            unit=Unit.SECONDS,
            labels=(_service,),
            buckets=FAST_BUCKETS,
        ),
        MetricSpec(
            name="acgs_governance_decisions_total",
            type=MetricType.COUNTER,
            help="Governance decisions taken, by type and outcome.",
            labels=(_service, _decision_type, _outcome),
        ),
        MetricSpec(
            name="acgs_governance_decision_duration_seconds",
            type=MetricType.HISTOGRAM,
            help="Time from submission to governance decision.",
            unit=Unit.SECONDS,
            labels=(_service, _decision_type),
            buckets=SYNTHESIS_BUCKETS,
        ),
        # Integrity service.
        MetricSpec(
            name="acgs_hash_validations_total",
            type=MetricType.COUNTER,
            help="Cryptographic hash validations of governance records, by result.",
            labels=(
                _service,
                LabelSpec(
                    name="algorithm",
                    description="hash algorithm",
                    values=("sha256", "sha3_256", "blake2b"),
                ),
                LabelSpec(
                    name="result", description="validation result", values=("valid", "invalid")
                ),
            ),
        ),
        # Formal verification service.
        MetricSpec(
            name="acgs_formal_verifications_total",
            type=MetricType.COUNTER,
            help="Formal verifications of policies, by result.",
            labels=(_service, _result),
        ),
        MetricSpec(
            name="acgs_formal_verification_duration_seconds",
            type=MetricType.HISTOGRAM,
            help="Time to formally verify a policy.",
            unit=Unit.SECONDS,
            labels=(_service,),
            buckets=SYNTHESIS_BUCKETS,
        ),
        # Authentication service.
        MetricSpec(
            name="acgs_auth_attempts_total",
            type=MetricType.COUNTER,
            help="Authentication attempts, by method and result.",
            labels=(
                _service,
                LabelSpec(
                    name="auth_method",
                    description="authentication method",
                    values=("password", "token", "api_key", "wallet"),
                ),
                LabelSpec(
                    name="result", description="attempt result", values=("success", "failure")
                ),
            ),
        ),
        MetricSpec(
            name="acgs_active_sessions",
            type=MetricType.GAUGE,
            help="Authenticated sessions currently open.",
            labels=(_service,),
            # Each worker sets its own count; the service's count is their sum.
            multiprocess_mode=GaugeMode.LIVESUM,
        ),
        # Evolutionary computation service.
        MetricSpec(
            name="acgs_evolution_cycles_total",
            type=MetricType.COUNTER,
            help="Evolutionary optimisation cycles of governance policies, by result.",
            labels=(_service, _result),
        ),
        MetricSpec(
            name="acgs_evolution_fitness_ratio",
            type=MetricType.GAUGE,
            help="Fitness of the best policy candidate, as a ratio of the ideal.",
            unit=Unit.RATIO,
            labels=(_service,),
            value_range=(0.0, 1.0),
        ),
        # HTTP RED metrics, recorded by the ASGI and WSGI middleware.
        MetricSpec(
            name="acgs_http_requests_total",
            type=MetricType.COUNTER,
            help="HTTP requests served, by route template, method and status code.",
            labels=(_service, _endpoint, _method, _status_code),
            max_series=2000,
        ),
        MetricSpec(
            name="acgs_http_request_duration_seconds",
            type=MetricType.HISTOGRAM,
            help="Time to serve an HTTP request.",
            unit=Unit.SECONDS,
            labels=(_service, _endpoint, _method),
            buckets=HTTP_BUCKETS,
            max_series=700,
        ),
        MetricSpec(
            name="acgs_http_requests_in_flight",
            type=MetricType.GAUGE,
            help="HTTP requests being served right now.",
            labels=(_service,),
            # Counted up and down by the middleware: mostrecent gauges refuse inc/dec.
            multiprocess_mode=GaugeMode.LIVESUM,
        ),
        # The library's own health.
        MetricSpec(
            name="acgs_metrics_cardinality_overflow_total",
            type=MetricType.COUNTER,
            help="Label sets folded into an overflow series (a bound reached or a value refused).",
            labels=(
                LabelSpec(
                    name="metric",
                    description="metric whose bound was reached",
                    max_values=64,
                    example="acgs_http_requests_total",
                ),
            ),
        ),
    )
)
