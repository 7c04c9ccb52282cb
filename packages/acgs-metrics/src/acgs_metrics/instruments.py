"""Typed instruments built from the catalog, with cached label children and a cardinality guard.

``family.labels(...)`` returns the plain prometheus_client child, cached by its label values,
so the hot path (``child.inc()``, ``child.observe()``) is exactly prometheus_client's.

The guard keeps memory bounded and never raises on a service's request path:

- a label value the catalog does not allow (not in the label's values, not matching its
  pattern, or not valid UTF-8, which would break every ``/metrics`` render) is, in
  production mode (the default), *folded*: that label becomes ``_overflow`` and the others
  keep their values; in strict mode it raises :class:`LabelValueError`;
- each metric keeps at most ``spec.series_bound`` label sets of its own; a new label set
  past that bound is folded too, its open labels (pattern and bound) becoming ``_overflow``
  and its closed ones (``service``, ``method``) kept;
- folded label sets are bounded on their own (``series_bound`` of them, then the one
  series with every label ``_overflow``), so a metric has at most ``2 * series_bound + 1``
  series whatever callers send; each fold is counted in
  ``acgs_metrics_cardinality_overflow_total{metric}``, with one warning log per metric.

Production mode is the default because a metrics library must not turn a surprising label
value into a failed request; strict mode (``strict=True`` or ``ACGS_METRICS_STRICT=1``) is
for tests and development, where a surprise should fail loudly.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Callable
from typing import Any, Generic, TypeVar, cast

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.values import MutexValue

from acgs_metrics.catalog import CATALOG
from acgs_metrics.multiprocess import multiprocess_dir
from acgs_metrics.schema import Catalog, MetricSpec, MetricType

__all__ = [
    "OVERFLOW_VALUE",
    "CounterFamily",
    "Family",
    "GaugeFamily",
    "HistogramFamily",
    "Instruments",
    "LabelValueError",
    "counter_adder",
    "gauge_setter",
]

log = logging.getLogger("acgs_metrics")

OVERFLOW_VALUE = "_overflow"
OVERFLOW_METRIC = "acgs_metrics_cardinality_overflow_total"

Child = TypeVar("Child", bound=MetricWrapperBase)


class LabelValueError(ValueError):
    """A label value the catalog does not allow, raised in strict mode only."""


def strict_from_env() -> bool:
    return os.environ.get("ACGS_METRICS_STRICT", "").lower() in {"1", "true", "yes"}


class Family(Generic[Child]):
    """One catalog metric: the prometheus_client parent and its cached, bounded children."""

    def __init__(self, spec: MetricSpec, parent: Child, instruments: Instruments) -> None:
        self.spec = spec
        self.parent: Child = parent
        self._instruments = instruments
        self._children: dict[tuple[str, ...], Child] = {}
        self._lock = threading.Lock()
        # Folded label set -> its child (see _fold_into); never keyed by refused values.
        self._folded: dict[tuple[str, ...], Child] = {}
        self._warned = False
        self._arity = len(spec.labels)
        self._open = [i for i, label in enumerate(spec.labels) if label.values is None]

    def labels(self, *values: str) -> Child:
        """The child for these label values, in catalog order; cached after the first call."""
        try:
            return self._children[values]
        except KeyError:
            return self._new_child(values)

    def labels_dict(self, **values: str) -> Child:
        """Like :meth:`labels`, by label name (slower: builds the tuple every call)."""
        try:
            key = tuple(values[name] for name in self.spec.label_names)
        except KeyError as missing:
            raise LabelValueError(
                f"{self.spec.name}: missing label {missing}; labels: {self.spec.label_names}"
            ) from None
        if len(values) != self._arity:
            extra = sorted(set(values) - set(self.spec.label_names))
            raise LabelValueError(f"{self.spec.name}: unknown labels {extra}")
        return self.labels(*key)

    def _new_child(self, values: tuple[str, ...]) -> Child:
        if not values and not self._arity:
            # A metric without labels is its own (only) child.
            self._children[values] = self.parent
            return self.parent
        if len(values) != self._arity:
            # A programming error, not data: fail in every mode.
            raise LabelValueError(
                f"{self.spec.name} takes {self._arity} label values "
                f"({', '.join(self.spec.label_names)}), got {len(values)}"
            )
        values = tuple(str(v) for v in values)
        refused = [
            (index, reason)
            for index, (label, value) in enumerate(zip(self.spec.labels, values, strict=True))
            if (reason := label.refusal(value)) is not None
        ]
        if refused and self._instruments.strict:
            index, reason = refused[0]
            raise LabelValueError(
                f"{self.spec.name}: value {values[index]!r} is not allowed for label "
                f"{self.spec.label_names[index]!r} ({reason})"
            )
        offending = [index for index, _ in refused]
        with self._lock:
            child = self._children.get(values)
            if child is not None:
                return child
            if not offending:
                if len(self._children) < self.spec.series_bound:
                    child = self.parent.labels(*values)
                    self._children[values] = child
                    return child
                # Every value is allowed, the label set is one too many: the open labels
                # (pattern and bound) are where the growth comes from; closed sets stay.
                offending = self._open or list(range(self._arity))
            folded = tuple(
                OVERFLOW_VALUE if index in offending else value
                for index, value in enumerate(values)
            )
            child = self._folded.get(folded)
            if child is None:
                child = self._fold_into(folded)
        self._count_overflow(offending, "not allowed" if refused else "series bound reached")
        return child

    def _fold_into(self, folded: tuple[str, ...]) -> Child:
        """The child of a folded label set (caller holds the lock).

        Folded label sets keep their allowed values, so they are bounded on their own:
        at most ``series_bound`` of them; past that, the one series with every label
        ``_overflow``. A metric thus has at most twice its bound plus one series, and
        folded label sets never take the place of label sets of its own.
        """
        if len(self._folded) >= self.spec.series_bound:
            return self.parent.labels(*([OVERFLOW_VALUE] * self._arity))
        child = self.parent.labels(*folded)
        self._folded[folded] = child
        return child

    def _count_overflow(self, offending: list[int], reason: str) -> None:
        self._instruments.count_overflow(self.spec.name)
        if not self._warned:
            # Label names only: a refused value may be anything a client sent.
            self._warned = True
            log.warning(
                "%s: label %s %s (series bound %d); such label sets fold into series "
                "where those labels are %s",
                self.spec.name,
                ", ".join(self.spec.label_names[index] for index in offending),
                reason,
                self.spec.series_bound,
                OVERFLOW_VALUE,
            )

    def holds(self, values: tuple[str, ...]) -> bool:
        """True when ``values`` has a child of its own (not folded into the overflow series).

        Caches built on top of :meth:`labels` keep only such label sets, so they stay as
        bounded as this family.
        """
        return values in self._children

    @property
    def series_count(self) -> int:
        return len(self._children)


class CounterFamily(Family[Counter]):
    pass


class GaugeFamily(Family[Gauge]):
    pass


class HistogramFamily(Family[Histogram]):
    pass


def counter_adder(child: Counter) -> Callable[[float], None]:
    """What adds to a counter child: its value's ``inc`` in one process, else ``child.inc``.

    ``Counter.inc`` checks on every call that the child is labelled and the amount is not
    negative, a third of its cost. Callers of this function guarantee both (a child from
    :meth:`Family.labels`, an amount of 1), so in one process they add to the child's
    ``MutexValue`` directly: the same lock and the same float. Multiprocess values (mmap
    files) and any other value class keep the public method.
    """
    value = getattr(child, "_value", None)
    if type(value) is MutexValue:
        return cast("Callable[[float], None]", value.inc)
    return child.inc


def gauge_setter(child: Gauge) -> Callable[[float], None]:
    """What sets a gauge child (to a float): its value's ``set`` in one process, else ``child.set``.

    As :func:`counter_adder`: ``Gauge.set`` re-checks the child on every call. In one
    process a gauge is never ``mostrecent`` (see :func:`_new_parent`), so no timestamp is
    lost; in multiprocess mode the public method keeps the timestamp that mode needs.
    """
    value = getattr(child, "_value", None)
    if type(value) is MutexValue:
        return cast("Callable[[float], None]", value.set)
    return child.set


class Instruments:
    """All catalog metrics registered in one registry, created on first use."""

    def __init__(
        self,
        catalog: Catalog = CATALOG,
        registry: CollectorRegistry | None = REGISTRY,
        *,
        strict: bool | None = None,
    ) -> None:
        self.catalog = catalog
        self.registry = registry
        self.strict = strict_from_env() if strict is None else strict
        self._families: dict[str, Family[Any]] = {}
        self._lock = threading.Lock()
        self._counts_overflow = OVERFLOW_METRIC in catalog

    def counter(self, name: str) -> CounterFamily:
        family = self._family(name, MetricType.COUNTER)
        assert isinstance(family, CounterFamily)
        return family

    def gauge(self, name: str) -> GaugeFamily:
        family = self._family(name, MetricType.GAUGE)
        assert isinstance(family, GaugeFamily)
        return family

    def histogram(self, name: str) -> HistogramFamily:
        family = self._family(name, MetricType.HISTOGRAM)
        assert isinstance(family, HistogramFamily)
        return family

    def register_all(self) -> None:
        """Create every catalog metric now, so all appear in the exposition from the start."""
        for spec in self.catalog:
            self._family(spec.name, spec.type)

    def count_overflow(self, metric: str) -> None:
        # A catalog of one's own may leave the overflow counter out: the warning log is
        # then the only record (never an error on the request path).
        if not self._counts_overflow:
            return
        # Straight to the parent: one series per catalog metric is bounded by the catalog,
        # and going through the guard again could recurse.
        self.counter(OVERFLOW_METRIC).parent.labels(metric).inc()

    def _family(self, name: str, expected: MetricType) -> Family[Any]:
        family = self._families.get(name)
        if family is None:
            with self._lock:
                family = self._families.get(name) or self._create(self.catalog[name])
                self._families[name] = family
        if family.spec.type is not expected:
            raise TypeError(f"{name} is a {family.spec.type}, not a {expected}")
        return family

    def _create(self, spec: MetricSpec) -> Family[Any]:
        parent = self._shared_parent(spec)
        if spec.type is MetricType.COUNTER:
            return CounterFamily(spec, parent, self)
        if spec.type is MetricType.GAUGE:
            return GaugeFamily(spec, parent, self)
        return HistogramFamily(spec, parent, self)

    def _shared_parent(self, spec: MetricSpec) -> Any:
        """The registry's prometheus_client metric for ``spec``, created once per registry.

        Several Instruments on one registry (a GovernanceMetrics and a middleware, each
        with the default registry) share the metric instead of failing on a duplicate.
        """
        if self.registry is None:
            return _new_parent(spec, None)
        with _SHARED_LOCK:
            known = _SHARED_PARENTS.setdefault(self.registry, {})
            entry = known.get(spec.name)
            if entry is not None:
                known_spec, parent = entry
                if known_spec != spec:
                    raise ValueError(
                        f"{spec.name} is already in this registry with another definition "
                        "(a different catalog); one name, one definition per registry"
                    )
                return parent
            try:
                parent = _new_parent(spec, self.registry)
            except ValueError as error:
                raise ValueError(
                    f"{spec.name}: the registry already has a metric of this name that "
                    f"acgs_metrics did not create ({error})"
                ) from None
            known[spec.name] = (spec, parent)
            return parent


# Per registry: metric name -> (spec, prometheus_client metric). Weak keys: a registry that
# is dropped (a test's, say) takes its entries with it.
_SHARED_PARENTS: weakref.WeakKeyDictionary[CollectorRegistry, dict[str, tuple[MetricSpec, Any]]]
_SHARED_PARENTS = weakref.WeakKeyDictionary()
_SHARED_LOCK = threading.Lock()


def _new_parent(spec: MetricSpec, registry: CollectorRegistry | None) -> Any:
    common: dict[str, Any] = {
        "documentation": spec.help,
        "labelnames": spec.label_names,
        "registry": registry,
    }
    if spec.type is MetricType.COUNTER:
        # prometheus_client adds _total itself and wants the bare counter name.
        return Counter(spec.name.removesuffix("_total"), **common)
    if spec.type is MetricType.GAUGE:
        # How values of several worker processes combine: the catalog says, per gauge.
        # In one process the mode means nothing but cost: a mostrecent gauge stamps
        # time.time() on every set() (about 1.25x the plain set), so use the default.
        mode = spec.gauge_mode.value if multiprocess_dir() else "all"
        return Gauge(spec.name, multiprocess_mode=mode, **common)  # type: ignore[arg-type]
    assert spec.buckets is not None
    return Histogram(spec.name, buckets=spec.buckets, **common)
