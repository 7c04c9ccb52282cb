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
import inspect
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar, cast

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
        # Bounds read once: the range check runs on every call.
        self._score_range = self._compliance.spec.value_range or (-math.inf, math.inf)
        self._cost_range = self._action_cost.spec.value_range or (-math.inf, math.inf)
        self._fitness_range = self._fitness.spec.value_range or (-math.inf, math.inf)

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
        """Decorator form of :meth:`time_synthesis`, for plain and ``async def`` functions.

        A coroutine function is timed while it is awaited, not while its coroutine object
        is created: its wrapper is itself an ``async def``.
        """

        def decorate(func: Callable[P, R]) -> Callable[P, R]:
            if inspect.iscoroutinefunction(func):
                run_coroutine = cast("Callable[P, Awaitable[Any]]", func)

                @functools.wraps(func)
                async def awaiting_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
                    with self.time_synthesis(synthesis_type):
                        return await run_coroutine(*args, **kwargs)

                return cast("Callable[P, R]", awaiting_wrapper)

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
        low, high = self._score_range
        if not low <= score <= high:
            checked = self._out_of_range(self._compliance.spec, score)
            if checked is None:
                return
            score = checked
        self._compliance.labels(self.service, principle_id).set(score)

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
        low, high = self._cost_range
        checked: float | None = cost_sol
        if not low <= cost_sol <= high:
            checked = self._out_of_range(self._action_cost.spec, cost_sol)
        if checked is not None:
            self._action_cost.labels(action_type, self.service).set(checked)
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
        low, high = self._fitness_range
        if not low <= ratio <= high:
            checked = self._out_of_range(self._fitness.spec, ratio)
            if checked is None:
                return
            ratio = checked
        self._fitness.labels(self.service).set(ratio)

    def _out_of_range(self, spec: MetricSpec, value: float) -> float | None:
        """A value outside the catalog's range (or NaN): strict mode raises; production
        clamps it and logs, or for NaN, which has nowhere to clamp to, keeps the last value
        (returns None)."""
        low, high = spec.value_range or (-math.inf, math.inf)
        if self.instruments.strict:
            raise ValueError(f"{spec.name}: {value} is outside {low}..{high}")
        if math.isnan(value):
            log.warning("%s: NaN is not a value; the last value is kept", spec.name)
            return None
        log.warning("%s: %s is outside %s..%s; clamped", spec.name, value, low, high)
        return min(max(value, low), high)
