"""Instruments: cached children, the cardinality guard, strict and production modes."""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading

import pytest
from prometheus_client import CollectorRegistry, Counter

from acgs_metrics import GovernanceMetrics, Instruments, LabelValueError
from acgs_metrics.catalog import CATALOG
from acgs_metrics.instruments import OVERFLOW_VALUE
from acgs_metrics.schema import Catalog, LabelSpec, MetricSpec, MetricType


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def overflow_count(registry: CollectorRegistry, metric: str) -> float:
    return sample(registry, "acgs_metrics_cardinality_overflow_total", metric=metric) or 0.0


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


def test_labels_returns_the_same_child(registry: CollectorRegistry) -> None:
    family = Instruments(registry=registry).counter("acgs_constitutional_validations_total")
    child = family.labels("gs", "success")
    assert family.labels("gs", "success") is child
    child.inc(3)
    assert (
        sample(registry, "acgs_constitutional_validations_total", service="gs", result="success")
        == 3
    )


def test_labels_dict_matches_positional(registry: CollectorRegistry) -> None:
    family = Instruments(registry=registry).counter("acgs_constitutional_validations_total")
    assert family.labels_dict(result="failure", service="ac") is family.labels("ac", "failure")
    with pytest.raises(LabelValueError, match="missing label"):
        family.labels_dict(service="ac")


def test_wrong_arity_raises_in_every_mode(registry: CollectorRegistry) -> None:
    family = Instruments(registry=registry, strict=False).counter(
        "acgs_constitutional_validations_total"
    )
    with pytest.raises(LabelValueError, match="takes 2 label values"):
        family.labels("gs")


def test_strict_mode_raises_on_disallowed_value(registry: CollectorRegistry) -> None:
    family = Instruments(registry=registry, strict=True).counter(
        "acgs_constitutional_validations_total"
    )
    with pytest.raises(LabelValueError, match="'maybe' is not allowed for label 'result'"):
        family.labels("gs", "maybe")


def test_production_mode_folds_disallowed_values_and_warns_once(
    registry: CollectorRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    family = Instruments(registry=registry, strict=False).counter(
        "acgs_constitutional_validations_total"
    )
    with caplog.at_level(logging.WARNING, logger="acgs_metrics"):
        for value in ("maybe", "perhaps", "maybe"):
            family.labels("gs", value).inc()
    # Only the offending label folds: the series still says which service it was.
    folded = sample(
        registry, "acgs_constitutional_validations_total", service="gs", result=OVERFLOW_VALUE
    )
    assert folded == 3
    assert overflow_count(registry, "acgs_constitutional_validations_total") == 3
    assert (
        sample(registry, "acgs_constitutional_validations_total", service="gs", result="maybe")
        is None
    )
    assert len([r for r in caplog.records if "fold into" in r.getMessage()]) == 1
    assert family.series_count == 0


def test_series_bound_folds_new_label_sets(registry: CollectorRegistry) -> None:
    bounded = MetricSpec(
        name="acgs_demo_events_total",
        type=MetricType.COUNTER,
        help="Demo.",
        labels=(LabelSpec(name="key", description="k", max_values=1000),),
        max_series=5,
    )
    catalog = Catalog(metrics=(*CATALOG.metrics, bounded))
    family = Instruments(catalog, registry=registry).counter("acgs_demo_events_total")
    for i in range(50):
        family.labels(f"k{i}").inc()
    assert family.series_count == 5
    assert sample(registry, "acgs_demo_events_total", key=OVERFLOW_VALUE) == 45
    assert overflow_count(registry, "acgs_demo_events_total") == 45
    # Known label sets keep working after the bound is reached.
    family.labels("k0").inc()
    assert sample(registry, "acgs_demo_events_total", key="k0") == 2


def test_type_mismatch_is_an_error(registry: CollectorRegistry) -> None:
    with pytest.raises(TypeError, match="is a counter, not a gauge"):
        Instruments(registry=registry).gauge("acgs_http_requests_total")


def test_unknown_metric_is_an_error(registry: CollectorRegistry) -> None:
    with pytest.raises(KeyError, match="not in the ACGS metric catalog"):
        Instruments(registry=registry).counter("acgs_nope_total")


def test_register_all_exposes_every_metric(registry: CollectorRegistry) -> None:
    Instruments(registry=registry).register_all()
    names = {metric.name for metric in registry.collect()}
    assert {spec.name.removesuffix("_total") for spec in CATALOG} <= names


class TestGovernanceMetrics:
    def test_time_synthesis_counts_results(self, registry: CollectorRegistry) -> None:
        metrics = GovernanceMetrics("gs", Instruments(registry=registry, strict=True))
        with metrics.time_synthesis("constitutional"):
            pass
        with pytest.raises(RuntimeError), metrics.time_synthesis("constitutional"):
            raise RuntimeError("boom")
        with pytest.raises(TimeoutError), metrics.time_synthesis("constitutional"):
            raise TimeoutError

        def ops(result: str) -> float | None:
            return sample(
                registry,
                "acgs_policy_synthesis_operations_total",
                service="gs",
                synthesis_type="constitutional",
                result=result,
            )

        assert (ops("success"), ops("failure"), ops("timeout")) == (1, 1, 1)
        count = sample(
            registry,
            "acgs_policy_synthesis_duration_seconds_count",
            service="gs",
            synthesis_type="constitutional",
        )
        assert count == 3

    def test_decorator(self, registry: CollectorRegistry) -> None:
        metrics = GovernanceMetrics("gs", Instruments(registry=registry))

        @metrics.timed_synthesis("regulatory")
        def synthesise(x: int) -> int:
            return x * 2

        assert synthesise(21) == 42
        assert (
            sample(
                registry,
                "acgs_policy_synthesis_duration_seconds_count",
                service="gs",
                synthesis_type="regulatory",
            )
            == 1
        )

    def test_decorator_on_async_def_times_the_awaited_work(
        self, registry: CollectorRegistry
    ) -> None:
        metrics = GovernanceMetrics("gs", Instruments(registry=registry, strict=True))

        @metrics.timed_synthesis("constitutional")
        async def fails_late() -> None:
            await asyncio.sleep(0.2)
            raise RuntimeError("synthesis failed")

        @metrics.timed_synthesis("regulatory")
        async def succeeds(x: int) -> int:
            await asyncio.sleep(0.1)
            return x * 2

        assert inspect.iscoroutinefunction(fails_late)
        with pytest.raises(RuntimeError, match="synthesis failed"):
            asyncio.run(fails_late())
        assert asyncio.run(succeeds(21)) == 42

        def ops(synthesis_type: str, result: str) -> float | None:
            return sample(
                registry,
                "acgs_policy_synthesis_operations_total",
                service="gs",
                synthesis_type=synthesis_type,
                result=result,
            )

        def seconds(synthesis_type: str) -> float:
            value = sample(
                registry,
                "acgs_policy_synthesis_duration_seconds_sum",
                service="gs",
                synthesis_type=synthesis_type,
            )
            assert value is not None
            return value

        assert ops("constitutional", "failure") == 1
        assert ops("constitutional", "success") is None
        assert ops("regulatory", "success") == 1
        assert seconds("constitutional") >= 0.2
        assert seconds("regulatory") >= 0.1

    def test_compliance_score_is_clamped_in_production_and_refused_in_strict(
        self, registry: CollectorRegistry
    ) -> None:
        GovernanceMetrics("ac", Instruments(registry=registry)).set_compliance_score("P1", 1.7)
        assert (
            sample(
                registry, "acgs_constitutional_compliance_score", service="ac", principle_id="P1"
            )
            == 1.0
        )
        strict = GovernanceMetrics("ac", Instruments(registry=CollectorRegistry(), strict=True))
        with pytest.raises(ValueError, match=r"outside 0\.0\.\.1\.0"):
            strict.set_compliance_score("P1", -0.1)

    def test_action_cost_sets_gauge_and_counts(self, registry: CollectorRegistry) -> None:
        metrics = GovernanceMetrics("gs", Instruments(registry=registry))
        metrics.record_action_cost("proposal", 0.25)
        metrics.record_action_cost("proposal", 0.5)
        labels = {"action_type": "proposal", "service": "gs"}
        assert sample(registry, "acgs_governance_action_cost_sol", **labels) == 0.5
        assert sample(registry, "acgs_governance_actions_total", **labels) == 2

    def test_unknown_service_is_refused(self) -> None:
        with pytest.raises(ValueError, match="unknown ACGS service 'billing'"):
            GovernanceMetrics("billing", Instruments(registry=CollectorRegistry()))


def test_in_flight_gauge_counts_up_and_down(registry: CollectorRegistry) -> None:
    # mostrecent gauges refuse inc/dec; the catalog gives this one livesum.
    family = Instruments(registry=registry).gauge("acgs_http_requests_in_flight")
    child = family.labels("gs")
    child.inc()
    child.inc()
    child.dec()
    assert sample(registry, "acgs_http_requests_in_flight", service="gs") == 1


def test_every_gauge_that_is_set_only_keeps_mostrecent() -> None:
    modes = {spec.name: spec.gauge_mode.value for spec in CATALOG if spec.type is MetricType.GAUGE}
    assert modes["acgs_http_requests_in_flight"] == "livesum"
    assert modes["acgs_active_sessions"] == "livesum"
    assert modes["acgs_constitutional_compliance_score"] == "mostrecent"


def test_a_metric_without_labels_is_its_own_child(registry: CollectorRegistry) -> None:
    plain = MetricSpec(name="acgs_demo_ticks_total", type=MetricType.COUNTER, help="Ticks.")
    family = Instruments(Catalog(metrics=(*CATALOG.metrics, plain)), registry=registry).counter(
        "acgs_demo_ticks_total"
    )
    family.labels().inc(2)
    assert family.labels() is family.parent
    assert sample(registry, "acgs_demo_ticks_total") == 2


def test_nan_keeps_the_last_value_but_still_counts_the_action(
    registry: CollectorRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    metrics = GovernanceMetrics("ec", Instruments(registry=registry, strict=False))
    metrics.set_fitness(0.8)
    metrics.record_action_cost("vote", 2.0)
    with caplog.at_level(logging.WARNING, logger="acgs_metrics"):
        metrics.set_fitness(float("nan"))
        metrics.record_action_cost("vote", float("nan"))
    assert sample(registry, "acgs_evolution_fitness_ratio", service="ec") == 0.8
    labels = {"action_type": "vote", "service": "ec"}
    assert sample(registry, "acgs_governance_action_cost_sol", **labels) == 2.0
    assert sample(registry, "acgs_governance_actions_total", **labels) == 2
    assert sum("NaN is not a value" in r.getMessage() for r in caplog.records) == 2
    strict = GovernanceMetrics("ec", Instruments(registry=CollectorRegistry(), strict=True))
    with pytest.raises(ValueError, match="nan is outside"):
        strict.set_fitness(float("nan"))


def test_several_instruments_share_one_registry(registry: CollectorRegistry) -> None:
    # A GovernanceMetrics and a middleware, each with its own Instruments, one registry.
    first = GovernanceMetrics("gs", Instruments(registry=registry))
    second = GovernanceMetrics("ac", Instruments(registry=registry, strict=True))
    first.count_validation("success")
    second.count_validation("success")
    second.count_validation("success")
    name = "acgs_constitutional_validations_total"
    assert sample(registry, name, service="gs", result="success") == 1
    assert sample(registry, name, service="ac", result="success") == 2
    # Each keeps its own mode.
    first.count_validation("maybe")
    with pytest.raises(LabelValueError):
        second.count_validation("maybe")


def test_default_registry_twice_does_not_fail() -> None:
    # The default path: GovernanceMetrics() with no Instruments, in two services.
    GovernanceMetrics("gs").set_active_sessions(1)
    GovernanceMetrics("ac").set_active_sessions(2)


def test_a_conflicting_definition_is_a_clear_error(registry: CollectorRegistry) -> None:
    Instruments(registry=registry).counter("acgs_governance_actions_total")
    changed = CATALOG["acgs_governance_actions_total"].model_copy(update={"help": "Other."})
    others = Catalog(metrics=tuple(s if s.name != changed.name else changed for s in CATALOG))
    with pytest.raises(ValueError, match="already in this registry with another definition"):
        Instruments(others, registry=registry).counter("acgs_governance_actions_total")


def test_a_foreign_metric_of_the_same_name_is_a_clear_error(registry: CollectorRegistry) -> None:
    Counter("acgs_governance_actions", "Not ours.", registry=registry)
    with pytest.raises(ValueError, match="that acgs_metrics did not create"):
        Instruments(registry=registry).counter("acgs_governance_actions_total")


def test_a_catalog_without_the_overflow_counter_still_folds(
    registry: CollectorRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    own = Catalog(metrics=(CATALOG["acgs_constitutional_validations_total"],))
    family = Instruments(own, registry=registry).counter("acgs_constitutional_validations_total")
    with caplog.at_level(logging.WARNING, logger="acgs_metrics"):
        family.labels("gs", "maybe").inc()
    name = "acgs_constitutional_validations_total"
    assert sample(registry, name, service="gs", result=OVERFLOW_VALUE) == 1
    assert any("fold into" in r.getMessage() for r in caplog.records)


def test_the_bound_holds_under_concurrent_first_use(registry: CollectorRegistry) -> None:
    bounded = MetricSpec(
        name="acgs_demo_hits_total",
        type=MetricType.COUNTER,
        help="Demo.",
        labels=(LabelSpec(name="key", description="k", max_values=1000),),
        max_series=50,
    )
    family = Instruments(Catalog(metrics=(*CATALOG.metrics, bounded)), registry=registry).counter(
        "acgs_demo_hits_total"
    )

    def hit(worker: int) -> None:
        for i in range(100):
            family.labels(f"k{(worker * 37 + i) % 200}").inc()

    threads = [threading.Thread(target=hit, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert family.series_count == 50
    total = sum(
        s.value
        for metric in registry.collect()
        if metric.name == "acgs_demo_hits"
        for s in metric.samples
        if s.name == "acgs_demo_hits_total"
    )
    assert total == 800


def test_facade_caches_keep_the_guard_past_the_series_bound(registry: CollectorRegistry) -> None:
    # With a bound of 5 series, the 6th principle folds (principle_id only: service is a
    # closed set), and keeps folding (and being counted) on every call, because the facade
    # never caches a folded label set.
    metric = "acgs_constitutional_compliance_score"
    catalog = Catalog(
        metrics=tuple(
            spec.model_copy(update={"max_series": 5}) if spec.name == metric else spec
            for spec in CATALOG
        )
    )
    metrics = GovernanceMetrics("ac", Instruments(catalog, registry=registry))
    for i in range(5):
        metrics.set_compliance_score(f"P-{i:03d}", 0.5)
    for score in (0.1, 0.2, 0.3):
        metrics.set_compliance_score("P-extra", score)
    assert overflow_count(registry, metric) == 3
    assert sample(registry, metric, service="ac", principle_id=OVERFLOW_VALUE) == 0.3
    assert sample(registry, metric, service="ac", principle_id="P-extra") is None
    # A cached principle still lands on its own series, and range checks still apply.
    metrics.set_compliance_score("P-004", 1.5)
    assert sample(registry, metric, service="ac", principle_id="P-004") == 1.0


def test_facade_disallowed_values_fold_or_raise_on_every_call(registry: CollectorRegistry) -> None:
    lenient = GovernanceMetrics("gs", Instruments(registry=registry))
    lenient.count_validation("success")
    for _ in range(2):
        lenient.count_validation("maybe")
    name = "acgs_constitutional_validations_total"
    assert sample(registry, name, service="gs", result="success") == 1
    assert sample(registry, name, service="gs", result=OVERFLOW_VALUE) == 2
    assert overflow_count(registry, name) == 2
    strict = GovernanceMetrics("gs", Instruments(registry=CollectorRegistry(), strict=True))
    for _ in range(2):
        with pytest.raises(LabelValueError, match="'maybe' is not allowed for label 'result'"):
            strict.count_validation("maybe")
    strict.count_validation("success")
    with pytest.raises(LabelValueError, match="'bogus' is not allowed"):
        strict.record_action_cost("bogus", 1.0)


def test_facade_writes_match_prometheus_client_children(registry: CollectorRegistry) -> None:
    metrics = GovernanceMetrics("gs", Instruments(registry=registry, strict=True))
    for _ in range(3):
        metrics.record_decision("appeal", "rejected", 2.5)
        metrics.record_verification(0.7, "success")
        metrics.count_hash_validation("sha256", valid=False)
        metrics.count_auth_attempt("token", success=True)
        metrics.count_evolution_cycle("timeout")
    metrics.set_active_sessions(4)
    metrics.set_fitness(0.25)
    with metrics.time_validation():
        pass
    assert (
        sample(
            registry,
            "acgs_governance_decisions_total",
            service="gs",
            decision_type="appeal",
            outcome="rejected",
        )
        == 3
    )
    assert (
        sample(
            registry,
            "acgs_governance_decision_duration_seconds_bucket",
            service="gs",
            decision_type="appeal",
            le="2.0",
        )
        == 0
    )
    assert (
        sample(
            registry,
            "acgs_governance_decision_duration_seconds_bucket",
            service="gs",
            decision_type="appeal",
            le="5.0",
        )
        == 3
    )
    assert sample(registry, "acgs_formal_verification_duration_seconds_sum", service="gs") == (
        pytest.approx(2.1)
    )
    assert (
        sample(
            registry,
            "acgs_hash_validations_total",
            service="gs",
            algorithm="sha256",
            result="invalid",
        )
        == 3
    )
    assert (
        sample(
            registry,
            "acgs_auth_attempts_total",
            service="gs",
            auth_method="token",
            result="success",
        )
        == 3
    )
    assert sample(registry, "acgs_evolution_cycles_total", service="gs", result="timeout") == 3
    assert sample(registry, "acgs_active_sessions", service="gs") == 4.0
    assert sample(registry, "acgs_evolution_fitness_ratio", service="gs") == 0.25
    assert (
        sample(registry, "acgs_constitutional_validations_total", service="gs", result="success")
        == 1
    )
