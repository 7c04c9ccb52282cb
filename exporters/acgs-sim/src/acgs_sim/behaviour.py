"""What each simulated ACGS service does: its API routes and the governance metrics they move.

Each service has a :class:`Behaviour`: API routes (each with the rate the traffic generator
calls it at and its typical handling time), the catalog metrics it emits besides the HTTP RED
metrics, request handlers that record those metrics, and a :meth:`Behaviour.tick` (about once
a second) that moves its gauges. Faults change what the handlers and ticks record.

Some handlers use the infrastructure (:mod:`acgs_sim.backends`) when the simulator has it:
principle lookups go through the Redis cache, sessions live in Redis, governance actions and
decisions are written to PostgreSQL. A handler whose backend is down answers 503.

The numbers are made up but plausible: compliance scores in the 0.9s, synthesis in about a
second, action costs in tenths of a SOL, a few percent of failures.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import product
from random import Random
from typing import Any, ClassVar

from acgs_metrics import CATALOG, GovernanceMetrics, Instruments, MetricType
from acgs_sim.backends import SESSION_TTL_S, BackendDown, Backends
from acgs_sim.faults import FaultBoard, FaultName

__all__ = [
    "BEHAVIOURS",
    "HTTP_METRICS",
    "PRINCIPLES",
    "Behaviour",
    "Route",
    "behaviour_for",
]

HTTP_METRICS = (
    "acgs_http_requests_total",
    "acgs_http_request_duration_seconds",
    "acgs_http_requests_in_flight",
)
COMPLIANCE = "acgs_constitutional_compliance_score"
SYNTHESIS_DURATION = "acgs_policy_synthesis_duration_seconds"
ACTION_COST = "acgs_governance_action_cost_sol"

PRINCIPLES = (
    "transparency",
    "accountability",
    "fairness",
    "privacy",
    "safety",
    "human_oversight",
    "democratic_legitimacy",
)

Body = dict[str, Any]
Handler = Callable[["Behaviour"], tuple[int, Body]]


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    rate: float  # requests per second from the traffic generator
    latency_s: float  # median handling time
    handler: str  # name of the Behaviour method that answers it


class Behaviour:
    """Base class: one service's routes, metrics, handlers and gauges."""

    service: ClassVar[str]
    routes: ClassVar[tuple[Route, ...]]
    metrics: ClassVar[tuple[str, ...]]  # catalog metrics emitted besides the HTTP RED ones

    def __init__(
        self,
        instruments: Instruments,
        faults: FaultBoard,
        rng: Random,
        backends: Backends | None = None,
    ) -> None:
        self.gov = GovernanceMetrics(self.service, instruments)
        self.instruments = instruments
        self.faults = faults
        self.rng = rng
        self.backends = backends or Backends()
        self.started = time.monotonic()
        self._touch_children()

    # --- what the service supports -------------------------------------------------

    @classmethod
    def supports(cls, fault: FaultName) -> bool:
        needs = {
            FaultName.COMPLIANCE_DROP: COMPLIANCE,
            FaultName.SLOW_SYNTHESIS: SYNTHESIS_DURATION,
            FaultName.COST_SPIKE: ACTION_COST,
        }.get(fault)
        return needs is None or needs in cls.metrics

    def handle(self, route: Route) -> tuple[int, Body]:
        handler: Handler = getattr(type(self), route.handler)
        try:
            return handler(self)
        except BackendDown as error:
            return 503, {"error": str(error)}

    def latency(self, route: Route) -> float:
        """How long this request takes to handle: log-normal around the route's median."""
        return min(route.latency_s * math.exp(self.rng.gauss(0.0, 0.5)), 5.0)

    def tick(self) -> None:
        """Move the gauges; called about once a second."""

    def example_path(self, route: Route) -> str:
        """A raw path for ``route``, with made-up ids in place of its parameters."""

        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            if name == "principle_id":
                return self.rng.choice(PRINCIPLES)
            return f"{name.removesuffix('_id')}-{self.rng.randrange(1, 100_000):05d}"

        return re.sub(r"\{([a-z_]+)\}", fill, route.template)

    # --- helpers for subclasses -----------------------------------------------------

    def pick(self, weights: dict[str, float]) -> str:
        return self.rng.choices(list(weights), weights=list(weights.values()))[0]

    def lognormal(self, median: float, sigma: float = 0.4) -> float:
        return median * math.exp(self.rng.gauss(0.0, sigma))

    def result(self, failure: float, timeout: float = 0.0) -> str:
        draw = self.rng.random()
        if draw < failure:
            return "failure"
        if draw < failure + timeout:
            return "timeout"
        return "success"

    def fault_value(self, name: FaultName) -> float | None:
        fault = self.faults.get(name)
        return None if fault is None else fault.value

    def _touch_children(self) -> None:
        """Create every closed-label series now, so counters start at 0 rather than missing."""
        for name in self.metrics:
            spec = CATALOG[name]
            if spec.type is MetricType.GAUGE:
                continue
            value_sets: list[Iterable[str]] = []
            for label in spec.labels:
                if label.name == "service":
                    value_sets.append([self.service])
                elif label.values is not None:
                    value_sets.append(label.values)
                else:
                    break
            else:
                family = (
                    self.instruments.counter(name)
                    if spec.type is MetricType.COUNTER
                    else self.instruments.histogram(name)
                )
                for values in product(*value_sets):
                    family.labels(*values)


class ComplianceScores:
    """Per-principle scores that wander around their own targets; a fault pins them."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        rng = behaviour.rng
        self.targets = {p: rng.uniform(0.90, 0.99) for p in PRINCIPLES}
        self.scores = dict(self.targets)
        self.tick()

    def tick(self) -> None:
        forced = self.behaviour.fault_value(FaultName.COMPLIANCE_DROP)
        rng = self.behaviour.rng
        for principle, target in self.targets.items():
            if forced is not None:
                score = forced
            else:
                score = self.scores[principle]
                score += 0.25 * (target - score) + rng.gauss(0.0, 0.004)
            self.scores[principle] = min(max(score, 0.0), 1.0)
            self.behaviour.gov.set_compliance_score(principle, self.scores[principle])


# Latest-action costs in SOL. Normal costs stay under 1 SOL (the cost-spike alert's floor);
# the default cost_spike factor of 10 takes most action types well above it.
ACTION_COSTS = {
    "proposal": 0.25,
    "vote": 0.02,
    "amendment": 0.4,
    "enforcement": 0.15,
    "appeal": 0.3,
    "audit": 0.1,
}


def record_action(behaviour: Behaviour, action_type: str) -> float:
    factor = behaviour.fault_value(FaultName.COST_SPIKE) or 1.0
    cost = min(behaviour.lognormal(ACTION_COSTS[action_type], 0.2) * factor, 1000.0)
    # Written first: an action the store refused did not happen (503, nothing counted).
    behaviour.backends.record_action(behaviour.service, action_type, cost)
    behaviour.gov.record_action_cost(action_type, cost)
    return cost


def validate(behaviour: Behaviour) -> str:
    result = behaviour.result(failure=0.015, timeout=0.003)
    seconds = behaviour.lognormal(0.006, 0.6)
    behaviour.gov.count_validation(result)
    behaviour.instruments.histogram("acgs_constitutional_validation_duration_seconds").labels(
        behaviour.service
    ).observe(seconds)
    return result


class Auth(Behaviour):
    service = "auth"
    routes = (
        Route("POST", "/auth/login", 1.5, 0.060, "login"),
        Route("POST", "/auth/token/verify", 4.0, 0.004, "verify_token"),
        Route("POST", "/auth/api-keys/verify", 1.0, 0.006, "verify_api_key"),
        Route("GET", "/auth/sessions/{session_id}", 1.0, 0.003, "get_session"),
        Route("POST", "/auth/logout", 0.5, 0.005, "logout"),
    )
    metrics = ("acgs_auth_attempts_total", "acgs_active_sessions")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sessions = 120.0
        self.tick()

    def _attempt(self, method: str, failure: float) -> tuple[int, Body]:
        ok = self.rng.random() >= failure
        self.gov.count_auth_attempt(method, ok)
        return (200, {"authenticated": True}) if ok else (401, {"error": "invalid credentials"})

    def login(self) -> tuple[int, Body]:
        self.backends.touch_session(f"session-{self.rng.randrange(1, 500):05d}")
        return self._attempt(self.pick({"password": 0.8, "wallet": 0.2}), failure=0.06)

    def verify_token(self) -> tuple[int, Body]:
        self.backends.touch_session(f"session-{self.rng.randrange(1, 500):05d}")
        return self._attempt("token", failure=0.01)

    def verify_api_key(self) -> tuple[int, Body]:
        return self._attempt("api_key", failure=0.02)

    def get_session(self) -> tuple[int, Body]:
        existed = self.backends.touch_session(f"session-{self.rng.randrange(1, 500):05d}")
        return 200, {"active": True, "resumed": existed, "expires_in_s": SESSION_TTL_S}

    def logout(self) -> tuple[int, Body]:
        return 204, {}

    def tick(self) -> None:
        # A slow daily-like swing around 120 open sessions.
        elapsed = time.monotonic() - self.started
        target = 120 + 40 * math.sin(2 * math.pi * elapsed / 600)
        self.sessions += 0.3 * (target - self.sessions) + self.rng.gauss(0.0, 3.0)
        self.sessions = max(self.sessions, 0.0)
        self.gov.set_active_sessions(round(self.sessions))


class ConstitutionalAI(Behaviour):
    service = "ac"
    routes = (
        Route("POST", "/principles/{principle_id}/validate", 4.0, 0.012, "validate"),
        Route("GET", "/principles", 1.0, 0.004, "list_principles"),
        Route("GET", "/principles/{principle_id}", 1.0, 0.003, "get_principle"),
    )
    metrics = (
        COMPLIANCE,
        "acgs_constitutional_validations_total",
        "acgs_constitutional_validation_duration_seconds",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.compliance = ComplianceScores(self)

    def validate(self) -> tuple[int, Body]:
        self.backends.principle(self.rng.choice(PRINCIPLES))
        return 200, {"result": validate(self)}

    def list_principles(self) -> tuple[int, Body]:
        return 200, {"principles": list(PRINCIPLES)}

    def get_principle(self) -> tuple[int, Body]:
        principle = self.rng.choice(PRINCIPLES)
        cached = self.backends.principle(principle)
        score = self.compliance.scores[principle]
        return 200, {"principle_id": principle, "score": score, "cached": cached}

    def tick(self) -> None:
        self.compliance.tick()


class Integrity(Behaviour):
    service = "integrity"
    routes = (
        Route("POST", "/records/{record_id}/verify", 6.0, 0.003, "verify"),
        Route("POST", "/records", 2.0, 0.008, "create"),
        Route("GET", "/records/{record_id}", 2.0, 0.002, "get_record"),
    )
    metrics = ("acgs_hash_validations_total",)

    def verify(self) -> tuple[int, Body]:
        algorithm = self.pick({"sha256": 0.7, "sha3_256": 0.2, "blake2b": 0.1})
        valid = self.rng.random() >= 0.002
        self.gov.count_hash_validation(algorithm, valid)
        return 200, {"algorithm": algorithm, "valid": valid}

    def create(self) -> tuple[int, Body]:
        self.gov.count_hash_validation("sha256", True)
        return 201, {"record_id": f"record-{self.rng.randrange(100_000):05d}"}

    def get_record(self) -> tuple[int, Body]:
        return 200, {"sealed": True}


class FormalVerification(Behaviour):
    service = "fv"
    routes = (
        Route("POST", "/verifications", 0.6, 0.020, "verify"),
        Route("GET", "/verifications/{verification_id}", 1.0, 0.003, "get_verification"),
    )
    metrics = ("acgs_formal_verifications_total", "acgs_formal_verification_duration_seconds")

    def verify(self) -> tuple[int, Body]:
        result = self.result(failure=0.06, timeout=0.02)
        seconds = self.lognormal(3.0, 0.5)
        self.gov.record_verification(seconds, result)
        return 202, {"result": result, "seconds": round(seconds, 3)}

    def get_verification(self) -> tuple[int, Body]:
        return 200, {"status": self.pick({"done": 0.8, "running": 0.2})}


SYNTHESIS_TYPES = {"operational": 0.5, "regulatory": 0.25, "constitutional": 0.2, "emergency": 0.05}
SYNTHESIS_MEDIANS = {"operational": 0.8, "regulatory": 1.5, "constitutional": 2.5, "emergency": 0.4}


class GovernanceSynthesis(Behaviour):
    service = "gs"
    routes = (
        Route("POST", "/synthesize", 1.5, 0.030, "synthesize"),
        Route("POST", "/proposals", 0.5, 0.015, "propose"),
        Route("GET", "/policies", 1.0, 0.006, "list_policies"),
        Route("GET", "/policies/{policy_id}", 2.0, 0.004, "get_policy"),
    )
    metrics = (
        COMPLIANCE,
        SYNTHESIS_DURATION,
        "acgs_policy_synthesis_operations_total",
        ACTION_COST,
        "acgs_governance_actions_total",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.compliance = ComplianceScores(self)

    def synthesize(self) -> tuple[int, Body]:
        synthesis_type = self.pick(SYNTHESIS_TYPES)
        slow = self.fault_value(FaultName.SLOW_SYNTHESIS)
        if slow is not None:
            seconds = slow * self.rng.uniform(0.9, 1.1)
        else:
            seconds = self.lognormal(SYNTHESIS_MEDIANS[synthesis_type])
        result = self.result(failure=0.03, timeout=0.01)
        self.gov.record_synthesis(synthesis_type, seconds, result)
        return 202, {"synthesis_type": synthesis_type, "result": result}

    def propose(self) -> tuple[int, Body]:
        action = self.pick({"proposal": 0.8, "amendment": 0.2})
        return 201, {"action_type": action, "cost_sol": record_action(self, action)}

    def list_policies(self) -> tuple[int, Body]:
        recent = self.backends.recent_actions()
        return 200, {"count": self.rng.randrange(80, 120), "recent_actions": recent}

    def get_policy(self) -> tuple[int, Body]:
        return 200, {"status": "active"}

    def tick(self) -> None:
        self.compliance.tick()


PGC_ACTIONS = {
    "vote": 0.4,
    "proposal": 0.15,
    "enforcement": 0.15,
    "audit": 0.15,
    "amendment": 0.1,
    "appeal": 0.05,
}
DECISION_TYPES = {"policy_approval": 0.6, "enforcement": 0.2, "amendment": 0.15, "appeal": 0.05}


class PolicyGovernance(Behaviour):
    service = "pgc"
    routes = (
        Route("POST", "/actions", 3.0, 0.015, "act"),
        Route("POST", "/decisions", 1.0, 0.025, "decide"),
        Route("POST", "/validate", 3.0, 0.010, "validate"),
        Route("GET", "/compliance/{principle_id}", 1.0, 0.003, "get_compliance"),
    )
    metrics = (
        COMPLIANCE,
        ACTION_COST,
        "acgs_governance_actions_total",
        "acgs_governance_decisions_total",
        "acgs_governance_decision_duration_seconds",
        "acgs_constitutional_validations_total",
        "acgs_constitutional_validation_duration_seconds",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.compliance = ComplianceScores(self)

    def act(self) -> tuple[int, Body]:
        action = self.pick(PGC_ACTIONS)
        return 201, {"action_type": action, "cost_sol": record_action(self, action)}

    def decide(self) -> tuple[int, Body]:
        decision = self.pick(DECISION_TYPES)
        outcome = self.pick({"approved": 0.8, "rejected": 0.15, "escalated": 0.05})
        seconds = self.lognormal(2.0, 0.6)
        self.backends.record_decision(decision, outcome, seconds)
        self.gov.record_decision(decision, outcome, seconds)
        return 200, {"decision_type": decision, "outcome": outcome}

    def validate(self) -> tuple[int, Body]:
        self.backends.principle(self.rng.choice(PRINCIPLES))
        return 200, {"result": validate(self)}

    def get_compliance(self) -> tuple[int, Body]:
        principle = self.rng.choice(PRINCIPLES)
        cached = self.backends.principle(principle)
        score = self.compliance.scores[principle]
        return 200, {"principle_id": principle, "score": score, "cached": cached}

    def tick(self) -> None:
        self.compliance.tick()


class EvolutionaryComputation(Behaviour):
    service = "ec"
    routes = (
        Route("POST", "/evolution/cycles", 0.5, 0.040, "cycle"),
        Route("GET", "/evolution/population", 1.0, 0.008, "population"),
        Route("GET", "/evolution/best", 1.0, 0.003, "best"),
    )
    metrics = ("acgs_evolution_cycles_total", "acgs_evolution_fitness_ratio")

    GENERATIONS_PER_RUN = 300

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.generation = 0
        self.fitness = 0.55
        self.tick()

    def cycle(self) -> tuple[int, Body]:
        result = self.result(failure=0.03, timeout=0.01)
        self.gov.count_evolution_cycle(result)
        if result == "success":
            # A new run starts from a fresh population once the last one has converged.
            self.generation = (self.generation + 1) % self.GENERATIONS_PER_RUN
        return 202, {"generation": self.generation, "result": result}

    def population(self) -> tuple[int, Body]:
        return 200, {"size": 200, "generation": self.generation}

    def best(self) -> tuple[int, Body]:
        return 200, {"fitness": round(self.fitness, 4)}

    def tick(self) -> None:
        converged = 1 - 0.45 * math.exp(-self.generation / 60)
        self.fitness = min(max(converged + self.rng.gauss(0.0, 0.005), 0.0), 1.0)
        self.gov.set_fitness(self.fitness)


BEHAVIOURS: tuple[type[Behaviour], ...] = (
    Auth,
    ConstitutionalAI,
    Integrity,
    FormalVerification,
    GovernanceSynthesis,
    PolicyGovernance,
    EvolutionaryComputation,
)


def behaviour_for(service: str) -> type[Behaviour]:
    for behaviour in BEHAVIOURS:
        if behaviour.service == service:
            return behaviour
    raise KeyError(service)
