"""What a service team calls: one object per service, a few words per measurement.

    from acgs_metrics import GovernanceMetrics

    metrics = GovernanceMetrics("gs")
    with metrics.time_synthesis("constitutional"):
        synthesise()
    metrics.set_compliance_score("P-001", 0.97)
    metrics.record_action_cost("proposal", 0.002)

Every method goes through :class:`~acgs_metrics.instruments.Instruments`, so label values
are checked against the catalog (strict mode raises, production mode folds) and the
cardinality guard holds. Each method then keeps what it writes to per label key: a repeat
call is one dict lookup and the write itself, within 1.15x of a bare prometheus_client call
on a cached child (``benchmarks/bench_instruments.py``, the "vs cached child" rows).
Folded label sets are never kept, so these caches are as bounded as the families.
"""

from __future__ import annotations

import functools
import inspect
import logging
import math
import time
from collections.abc import Awaitable, Callable, Hashable
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any, ParamSpec, TypeVar, cast

from acgs_metrics.instruments import Family, Instruments, counter_adder, gauge_setter
from acgs_metrics.schema import MetricSpec
from acgs_metrics.services import SERVICE_NAMES

__all__ = ["GovernanceMetrics"]

log = logging.getLogger("acgs_metrics")

P = ParamSpec("P")
R = TypeVar("R")
K = TypeVar("K", bound=Hashable)

Adder = Callable[[float], None]
Setter = Callable[[float], None]
Observer = Callable[[float], None]


def _observer(child: Any) -> Observer:
    return cast(Observer, child.observe)


class _Timed(AbstractContextManager[None]):
    """Times a block, then hands ``record(kind, seconds, result)`` how it ended.

    A class, not ``@contextmanager``: a generator per call costs more than the metrics.
    """

    __slots__ = ("_kind", "_record", "_start", "_timeout_result")

    def __init__(
        self, record: Callable[[str, float, str], None], kind: str, timeout_result: str
    ) -> None:
        self._record = record
        self._kind = kind
        self._timeout_result = timeout_result
        self._start = 0.0

    def __enter__(self) -> None:
        self._start = time.perf_counter()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        elapsed = time.perf_counter() - self._start
        if exc_type is None:
            result = "success"
        elif issubclass(exc_type, TimeoutError):
            result = self._timeout_result
        else:
            result = "failure"
        self._record(self._kind, elapsed, result)


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
        self._score_low, self._score_high = _bounds(self._compliance.spec)
        self._cost_low, self._cost_high = _bounds(self._action_cost.spec)
        self._fitness_low, self._fitness_high = _bounds(self._fitness.spec)
        # Per method: label key -> what to write to (see the module docstring).
        self._synthesis_writers: dict[tuple[str, str], tuple[Observer, Adder]] = {}
        self._score_setters: dict[str, Setter] = {}
        self._validation_writers: dict[str, tuple[Observer, Adder]] = {}
        self._validation_adders: dict[str, Adder] = {}
        self._cost_writers: dict[str, tuple[Setter, Adder]] = {}
        self._decision_writers: dict[tuple[str, str], tuple[Adder, Observer]] = {}
        self._hash_adders: dict[tuple[str, bool], Adder] = {}
        self._verification_writers: dict[str, tuple[Observer, Adder]] = {}
        self._auth_adders: dict[tuple[str, bool], Adder] = {}
        self._session_setters: dict[str, Setter] = {}
        self._evolution_adders: dict[str, Adder] = {}
        self._fitness_setters: dict[str, Setter] = {}

    # --- policy synthesis ------------------------------------------------------------

    def time_synthesis(self, synthesis_type: str) -> AbstractContextManager[None]:
        """Time a synthesis and count it: success, ``timeout`` on TimeoutError, else failure."""
        return _Timed(self.record_synthesis, synthesis_type, "timeout")

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
        key = (synthesis_type, result)
        writers = self._synthesis_writers.get(key)
        if writers is None:
            writers = _cached(
                self._synthesis_writers,
                key,
                (self._synthesis_duration, (self.service, synthesis_type), _observer),
                (self._synthesis_ops, (self.service, synthesis_type, result), counter_adder),
            )
        observe, add = writers
        observe(seconds)
        add(1)

    # --- constitutional compliance and validation ------------------------------------

    def set_compliance_score(self, principle_id: str, score: float) -> None:
        """Setter the compliance score of one principle (0 to 1)."""
        set_score = self._score_setters.get(principle_id)
        if set_score is not None and self._score_low <= score <= self._score_high:
            set_score(float(score))
            return
        checked = self._in_range(self._compliance.spec, score)
        if checked is None:
            return
        set_score = _cached(
            self._score_setters,
            principle_id,
            (self._compliance, (self.service, principle_id), gauge_setter),
        )
        set_score(checked)

    def time_validation(self) -> AbstractContextManager[None]:
        """Time a constitutional validation; an exception counts as a failure."""
        return _Timed(self._record_validation, "", "failure")

    def _record_validation(self, _: str, seconds: float, result: str) -> None:
        writers = self._validation_writers.get(result)
        if writers is None:
            writers = _cached(
                self._validation_writers,
                result,
                (self._validation_duration, (self.service,), _observer),
                (self._validations, (self.service, result), counter_adder),
            )
        observe, add = writers
        observe(seconds)
        add(1)

    def count_validation(self, result: str) -> None:
        add = self._validation_adders.get(result)
        if add is None:
            add = _cached(
                self._validation_adders,
                result,
                (self._validations, (self.service, result), counter_adder),
            )
        add(1)

    # --- governance actions and decisions --------------------------------------------

    def record_action_cost(self, action_type: str, cost_sol: float) -> None:
        """Count a governance action and set its latest cost in SOL."""
        writers = self._cost_writers.get(action_type)
        if writers is not None and self._cost_low <= cost_sol <= self._cost_high:
            set_cost, add = writers
            set_cost(float(cost_sol))
            add(1)
            return
        checked = self._in_range(self._action_cost.spec, cost_sol)
        set_cost, add = _cached(
            self._cost_writers,
            action_type,
            (self._action_cost, (action_type, self.service), gauge_setter),
            (self._actions, (action_type, self.service), counter_adder),
        )
        if checked is not None:
            set_cost(checked)
        add(1)

    def record_decision(self, decision_type: str, outcome: str, seconds: float) -> None:
        key = (decision_type, outcome)
        writers = self._decision_writers.get(key)
        if writers is None:
            writers = _cached(
                self._decision_writers,
                key,
                (self._decisions, (self.service, decision_type, outcome), counter_adder),
                (self._decision_duration, (self.service, decision_type), _observer),
            )
        add, observe = writers
        add(1)
        observe(seconds)

    # --- integrity, verification, auth, evolution ------------------------------------

    def count_hash_validation(self, algorithm: str, valid: bool) -> None:
        key = (algorithm, valid)
        add = self._hash_adders.get(key)
        if add is None:
            values = (self.service, algorithm, "valid" if valid else "invalid")
            add = _cached(self._hash_adders, key, (self._hashes, values, counter_adder))
        add(1)

    def record_verification(self, seconds: float, result: str) -> None:
        writers = self._verification_writers.get(result)
        if writers is None:
            writers = _cached(
                self._verification_writers,
                result,
                (self._verification_duration, (self.service,), _observer),
                (self._verifications, (self.service, result), counter_adder),
            )
        observe, add = writers
        observe(seconds)
        add(1)

    def count_auth_attempt(self, auth_method: str, success: bool) -> None:
        key = (auth_method, success)
        add = self._auth_adders.get(key)
        if add is None:
            values = (self.service, auth_method, "success" if success else "failure")
            add = _cached(self._auth_adders, key, (self._auth, values, counter_adder))
        add(1)

    def set_active_sessions(self, count: int) -> None:
        set_count = self._session_setters.get(self.service)
        if set_count is None:
            set_count = _cached(
                self._session_setters,
                self.service,
                (self._sessions, (self.service,), gauge_setter),
            )
        set_count(float(count))

    def count_evolution_cycle(self, result: str) -> None:
        add = self._evolution_adders.get(result)
        if add is None:
            add = _cached(
                self._evolution_adders,
                result,
                (self._evolution, (self.service, result), counter_adder),
            )
        add(1)

    def set_fitness(self, ratio: float) -> None:
        set_ratio = self._fitness_setters.get(self.service)
        if set_ratio is not None and self._fitness_low <= ratio <= self._fitness_high:
            set_ratio(float(ratio))
            return
        checked = self._in_range(self._fitness.spec, ratio)
        if checked is None:
            return
        set_ratio = _cached(
            self._fitness_setters,
            self.service,
            (self._fitness, (self.service,), gauge_setter),
        )
        set_ratio(checked)

    def _in_range(self, spec: MetricSpec, value: float) -> float | None:
        """``value`` as a float inside the catalog's range. Outside it (or NaN), strict mode
        raises; production clamps it and logs, or for NaN, which has nowhere to clamp to,
        keeps the last value (returns None)."""
        low, high = _bounds(spec)
        if low <= value <= high:
            return float(value)
        if self.instruments.strict:
            raise ValueError(f"{spec.name}: {value} is outside {low}..{high}")
        if math.isnan(value):
            log.warning("%s: NaN is not a value; the last value is kept", spec.name)
            return None
        log.warning("%s: %s is outside %s..%s; clamped", spec.name, value, low, high)
        return float(min(max(value, low), high))


def _bounds(spec: MetricSpec) -> tuple[float, float]:
    return spec.value_range or (-math.inf, math.inf)


def _cached(
    cache: dict[K, Any],
    key: K,
    *targets: tuple[Family[Any], tuple[str, ...], Callable[[Any], Any]],
) -> Any:
    """The writers for ``key``: ``make`` of each target's guarded child (one target: the
    writer itself; several: a tuple). Kept in ``cache`` only when every label set has a
    child of its own: folded (overflow) label sets go through the guard each time, so they
    are counted and cannot grow the cache. Strict mode's LabelValueError propagates."""
    made = tuple(make(family.labels(*values)) for family, values, make in targets)
    writers = made[0] if len(made) == 1 else made
    if all(family.holds(values) for family, values, _ in targets):
        cache[key] = writers
    return writers
