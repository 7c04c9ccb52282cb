"""What a service team calls: one object per service, a few words per measurement.

    from acgs_metrics import GovernanceMetrics

    metrics = GovernanceMetrics("gs")
    with metrics.time_synthesis("constitutional"):
        synthesise()
    metrics.set_compliance_score("P-001", 0.97)
    metrics.record_action_cost("proposal", 0.002)

Every method goes through :class:`~acgs_metrics.instruments.Instruments`, so label values
are checked against the catalog and children are cached.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

from acgs_metrics.catalog import MetricSpec
from acgs_metrics.instruments import Instruments
from acgs_metrics.services import SERVICE_NAMES

__all__ = ["GovernanceMetrics"]

log = logging.getLogger("acgs_metrics")

P = ParamSpec("P")
R = TypeVar("R")


class GovernanceMetrics:
    """The ACGS governance metrics of one service."""

    def __init__(self, service: str, instruments: Instruments | None = None) -> None:
        if service not in SERVICE_NAMES:
            raise ValueError(f"unknown ACGS service {service!r}; known: {', '.join(SERVICE_NAMES)}")
        self.service = service
        self.instruments = instruments or Instruments()
        i = self.instruments
        self._compliance = i.gauge("acgs_constitutional_compliance_score")
        self._synthesis_duration = i.histogram("acgs_policy_synthesis_duration_seconds")
        self._synthesis_ops = i.counter("acgs_policy_synthesis_operations_total")
        self._action_cost = i.gauge("acgs_governance_action_cost_sol")
        self._actions = i.counter("acgs_governance_actions_total")
        self._validations = i.counter("acgs_constitutional_validations_total")
        self._validation_duration = i.histogram("acgs_constitutional_validation_duration_seconds")
        self._decisions = i.counter("acgs_governance_decisions_total")
        self._decision_duration = i.histogram("acgs_governance_decision_duration_seconds")
        self._hashes = i.counter("acgs_hash_validations_total")
        self._verifications = i.counter("acgs_formal_verifications_total")
        self._verification_duration = i.histogram("acgs_formal_verification_duration_seconds")
        self._auth = i.counter("acgs_auth_attempts_total")
        self._sessions = i.gauge("acgs_active_sessions")
        self._evolution = i.counter("acgs_evolution_cycles_total")
        self._fitness = i.gauge("acgs_evolution_fitness_ratio")

    # --- policy synthesis ------------------------------------------------------------

    @contextmanager
    def time_synthesis(self, synthesis_type: str) -> Iterator[None]:
        """Time a synthesis and count it: success, ``timeout`` on TimeoutError, else failure."""
        duration = self._synthesis_duration.labels(self.service, synthesis_type)
        start = time.perf_counter()
        result = "failure"
        try:
            yield
            result = "success"
        except TimeoutError:
            result = "timeout"
            raise
        finally:
            duration.observe(time.perf_counter() - start)
            self._synthesis_ops.labels(self.service, synthesis_type, result).inc()

    def timed_synthesis(self, synthesis_type: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
        """Decorator form of :meth:`time_synthesis`."""

        def decorate(func: Callable[P, R]) -> Callable[P, R]:
            @functools.wraps(func)
            def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
                with self.time_synthesis(synthesis_type):
                    return func(*args, **kwargs)

            return wrapper

        return decorate

    def record_synthesis(self, synthesis_type: str, seconds: float, result: str) -> None:
        """Record a synthesis measured elsewhere."""
        self._synthesis_duration.labels(self.service, synthesis_type).observe(seconds)
        self._synthesis_ops.labels(self.service, synthesis_type, result).inc()

    # --- constitutional compliance and validation ------------------------------------

    def set_compliance_score(self, principle_id: str, score: float) -> None:
        """Set the compliance score of one principle (0 to 1)."""
        value = self._in_range(self._compliance.spec, score)
        self._compliance.labels(self.service, principle_id).set(value)

    @contextmanager
    def time_validation(self) -> Iterator[None]:
        """Time a constitutional validation; an exception counts as a failure."""
        start = time.perf_counter()
        result = "failure"
        try:
            yield
            result = "success"
        finally:
            self._validation_duration.labels(self.service).observe(time.perf_counter() - start)
            self._validations.labels(self.service, result).inc()

    def count_validation(self, result: str) -> None:
        self._validations.labels(self.service, result).inc()

    # --- governance actions and decisions --------------------------------------------

    def record_action_cost(self, action_type: str, cost_sol: float) -> None:
        """Count a governance action and set its latest cost in SOL."""
        value = self._in_range(self._action_cost.spec, cost_sol)
        self._action_cost.labels(action_type, self.service).set(value)
        self._actions.labels(action_type, self.service).inc()

    def record_decision(self, decision_type: str, outcome: str, seconds: float) -> None:
        self._decisions.labels(self.service, decision_type, outcome).inc()
        self._decision_duration.labels(self.service, decision_type).observe(seconds)

    # --- integrity, verification, auth, evolution ------------------------------------

    def count_hash_validation(self, algorithm: str, valid: bool) -> None:
        self._hashes.labels(self.service, algorithm, "valid" if valid else "invalid").inc()

    def record_verification(self, seconds: float, result: str) -> None:
        self._verification_duration.labels(self.service).observe(seconds)
        self._verifications.labels(self.service, result).inc()

    def count_auth_attempt(self, auth_method: str, success: bool) -> None:
        self._auth.labels(self.service, auth_method, "success" if success else "failure").inc()

    def set_active_sessions(self, count: int) -> None:
        self._sessions.labels(self.service).set(count)

    def count_evolution_cycle(self, result: str) -> None:
        self._evolution.labels(self.service, result).inc()

    def set_fitness(self, ratio: float) -> None:
        self._fitness.labels(self.service).set(self._in_range(self._fitness.spec, ratio))

    def _in_range(self, spec: MetricSpec, value: float) -> float:
        """Clamp to the catalog's range and log; strict mode raises instead."""
        if spec.value_range is None:
            return value
        low, high = spec.value_range
        if low <= value <= high:
            return value
        if self.instruments.strict:
            raise ValueError(f"{spec.name}: {value} is outside {low}..{high}")
        log.warning("%s: %s is outside %s..%s; clamped", spec.name, value, low, high)
        return min(max(value, low), high)
