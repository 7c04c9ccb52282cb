"""The catalog's schema: what a metric spec is, and the rules every spec obeys.

:class:`MetricSpec` says a metric's name, type, help, unit, labels and buckets;
:class:`Catalog` is a name-unique set of them. The ACGS metrics themselves are data, in
:mod:`acgs_metrics.catalog`.

Specs are validated when they are built, so a bad entry fails at import time with a message
that names the metric and the field:

- names are snake_case and start with ``acgs_``;
- a unit, when set, is the name's suffix (before ``_total`` for counters); a unitless metric
  must not end in a unit word it does not declare;
- counters end in ``_total``, other types must not; no name ends in a suffix the exposition
  formats add to samples (``_bucket``, ``_sum``, ``_count``, ``_created``, ``_info``, ...);
- no two metrics expose the same sample or family name (a counter ``acgs_x_total`` and a
  histogram ``acgs_x`` would both expose ``acgs_x_created``);
- label names are valid Prometheus label names and not reserved (``le``, ``quantile``,
  ``__*``, ``job``, ``instance``);
- each label has allowed values or a cardinality bound, and a pattern that compiles (the
  error names the metric and the label); allowed values are valid UTF-8 (pydantic itself
  refuses a ``help`` that is not); histogram buckets are sorted.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from enum import StrEnum
from typing import Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

__all__ = [
    "Catalog",
    "GaugeMode",
    "LabelSpec",
    "MetricSpec",
    "MetricType",
    "Unit",
]

_METRIC_NAME = re.compile(r"^acgs_[a-z][a-z0-9]*(_[a-z0-9]+)*$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
# Labels Prometheus or the exposition format give a meaning of their own.
RESERVED_LABELS = frozenset({"le", "quantile", "job", "instance"})
# Suffixes the text and OpenMetrics formats append to a family's samples. A metric named
# with one reads as a sample of another metric (``acgs_x_count`` as the count of histogram
# ``acgs_x``) to PromQL readers and to :meth:`Catalog.by_series_name`.
RESERVED_SUFFIXES = ("_bucket", "_sum", "_count", "_created", "_info", "_gcount", "_gsum")


# The one label value no exposition can carry: a str that is not UTF-8 (an unpaired
# surrogate, "\ud800", from a lenient decoder, a JSON escape or os.fsdecode). It breaks
# the encoding of the whole page, every series with it. NUL, control characters,
# U+2028 and long values do not: both formats escape or carry them, and prometheus_client's
# parsers, promtool and Prometheus 2.42 read them back.
NOT_UTF8 = "not valid UTF-8 (an unpaired surrogate), which no exposition format can carry"


def encodable(value: str) -> bool:
    """True when ``value`` can be written as UTF-8 (ASCII, the common case, costs least)."""
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class MetricType(StrEnum):
    COUNTER = "counter"
    GAUGE = "gauge"
    HISTOGRAM = "histogram"


class Unit(StrEnum):
    """Base units, following Prometheus naming: the unit is the name's suffix."""

    NONE = ""
    SECONDS = "seconds"
    BYTES = "bytes"
    RATIO = "ratio"
    SOL = "sol"  # cost of a governance action, in SOL

    @property
    def grafana_unit(self) -> str:
        """The Grafana panel unit that fits values of this unit."""
        return _GRAFANA_UNITS[self]


_GRAFANA_UNITS = {
    Unit.NONE: "short",
    Unit.SECONDS: "s",
    Unit.BYTES: "bytes",
    Unit.RATIO: "percentunit",
    Unit.SOL: "short",
}
# Suffixes that imply a unit: a metric ending in one must declare that unit.
_UNIT_WORDS = {
    "seconds": Unit.SECONDS,
    "milliseconds": None,
    "bytes": Unit.BYTES,
    "ratio": Unit.RATIO,
    "percent": None,
    "sol": Unit.SOL,
}


class GaugeMode(StrEnum):
    """How a gauge's values from several processes combine in multiprocess mode.

    prometheus_client's ``mostrecent`` gauges refuse ``inc()``/``dec()`` (in every mode,
    not only multiprocess), so a gauge that is counted up and down must use ``livesum``.
    """

    MOSTRECENT = "mostrecent"  # the value set last, by any process (dead ones too)
    LIVEMOSTRECENT = "livemostrecent"  # the value set last by a live process
    LIVESUM = "livesum"  # the sum over live processes: in-flight counts, open sessions
    LIVEMAX = "livemax"
    LIVEMIN = "livemin"


class LabelSpec(BaseModel):
    """One label: either a closed set of allowed values, or a pattern and a cardinality bound."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    description: str
    values: tuple[str, ...] | None = None
    pattern: str | None = None
    max_values: int | None = Field(default=None, ge=1)
    # A typical value, for docs, demo data and tests (labels with a closed set use values[0]).
    example: str | None = None

    @field_validator("name")
    @classmethod
    def _valid_name(cls, name: str) -> str:
        if not _LABEL_NAME.match(name):
            raise ValueError(f"label name {name!r} is not a valid Prometheus label name")
        if name.startswith("__") or name in RESERVED_LABELS:
            raise ValueError(f"label name {name!r} is reserved; choose another name")
        return name

    @model_validator(mode="after")
    def _bounded(self) -> Self:
        if self.values is None and self.max_values is None:
            raise ValueError(
                f"label {self.name!r} needs allowed values or max_values (a cardinality bound)"
            )
        if self.values is not None:
            if not self.values:
                raise ValueError(f"label {self.name!r}: values must not be empty")
            if len(set(self.values)) != len(self.values):
                raise ValueError(f"label {self.name!r}: values repeat")
            for value in self.values:
                if not encodable(value):
                    raise ValueError(f"label {self.name!r}: value {value!r} is {NOT_UTF8}")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as error:
                # re.error is no ValueError: pydantic would let it through raw.
                raise ValueError(
                    f"label {self.name!r}: pattern {self.pattern!r} is not a valid regular "
                    f"expression ({error})"
                ) from None
        if self.example is not None and not self.allows(self.example):
            raise ValueError(f"label {self.name!r}: example {self.example!r} is not allowed")
        return self

    @property
    def example_value(self) -> str:
        """A value this label allows: ``example``, else the first allowed value."""
        if self.example is not None:
            return self.example
        if self.values is not None:
            return self.values[0]
        raise ValueError(f"label {self.name!r} has neither values nor an example")

    @property
    def cardinality(self) -> int:
        """The most distinct values this label can take."""
        if self.values is not None:
            return len(self.values)
        assert self.max_values is not None
        return self.max_values

    def allows(self, value: str) -> bool:
        """True when ``value`` is one of the allowed values, or is UTF-8 and matches the
        pattern (any UTF-8 value when there is none)."""
        return self.refusal(value) is None

    def refusal(self, value: str) -> str | None:
        """Why this label refuses ``value`` (None when it allows it), for error messages."""
        if self.values is not None:
            return None if value in self.values else "allowed: " + ", ".join(self.values)
        if not encodable(value):
            return NOT_UTF8
        if self.pattern is not None and re.fullmatch(self.pattern, value) is None:
            return f"must match {self.pattern}"
        return None


class MetricSpec(BaseModel):
    """One metric as the ACGS services expose it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    type: MetricType
    help: str = Field(min_length=1)
    unit: Unit = Unit.NONE
    labels: tuple[LabelSpec, ...] = ()
    buckets: tuple[float, ...] | None = None
    value_range: tuple[float, float] | None = None
    max_series: int | None = Field(default=None, ge=1)
    # Gauges only; None on a gauge means GaugeMode.MOSTRECENT (see gauge_mode).
    multiprocess_mode: GaugeMode | None = None

    @field_validator("name")
    @classmethod
    def _valid_name(cls, name: str) -> str:
        if not _METRIC_NAME.match(name):
            raise ValueError(f"metric name {name!r} must be snake_case and start with 'acgs_'")
        suffix = next((s for s in RESERVED_SUFFIXES if name.endswith(s)), None)
        if suffix is not None:
            raise ValueError(
                f"metric name {name!r} ends in {suffix!r}, a suffix the exposition formats "
                "add to samples of other metrics; choose another last word"
            )
        return name

    @field_validator("labels", mode="wrap")
    @classmethod
    def _labels_of_this_metric(
        cls, labels: object, handler: ValidatorFunctionWrapHandler, info: ValidationInfo
    ) -> tuple[LabelSpec, ...]:
        """Label errors name the metric too (labels given as data, JSON say)."""
        try:
            validated: tuple[LabelSpec, ...] = handler(labels)
        except ValidationError as error:
            metric = info.data.get("name", "<unnamed metric>")
            reasons = "; ".join(
                str(problem["msg"]).removeprefix("Value error, ") for problem in error.errors()
            )
            raise ValueError(f"metric {metric}: {reasons}") from None
        return validated

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        name = self.name
        if self.type is MetricType.COUNTER and not name.endswith("_total"):
            raise ValueError(f"{name}: counter names end in '_total'")
        if self.type is not MetricType.COUNTER and name.endswith("_total"):
            raise ValueError(f"{name}: only counters end in '_total'")
        stem = name.removesuffix("_total")
        last_word = stem.rsplit("_", 1)[-1]
        if self.unit is not Unit.NONE and not stem.endswith(f"_{self.unit.value}"):
            raise ValueError(
                f"{name}: unit is {self.unit.value!r}, so the name must end in "
                f"'_{self.unit.value}'{' before _total' if self.type is MetricType.COUNTER else ''}"
            )
        if self.unit is Unit.NONE and last_word in _UNIT_WORDS:
            implied = _UNIT_WORDS[last_word]
            hint = f"set unit={implied.value!r}" if implied else "use a base unit instead"
            raise ValueError(f"{name}: ends in '_{last_word}' but declares no unit; {hint}")
        names = [label.name for label in self.labels]
        if len(set(names)) != len(names):
            raise ValueError(f"{name}: label names repeat: {names}")
        if self.type is MetricType.HISTOGRAM:
            if not self.buckets:
                raise ValueError(f"{name}: a histogram needs buckets")
            if list(self.buckets) != sorted(set(self.buckets)):
                raise ValueError(f"{name}: buckets must be strictly increasing")
            if any(math.isinf(b) or math.isnan(b) for b in self.buckets):
                raise ValueError(f"{name}: list finite buckets only; +Inf is always added")
        elif self.buckets is not None:
            raise ValueError(f"{name}: only histograms have buckets")
        if self.multiprocess_mode is not None and self.type is not MetricType.GAUGE:
            raise ValueError(
                f"{name}: only gauges have a multiprocess_mode (counters and histograms sum)"
            )
        if self.value_range is not None:
            low, high = self.value_range
            if not low < high:
                raise ValueError(f"{name}: value_range must be (low, high) with low < high")
        return self

    @property
    def gauge_mode(self) -> GaugeMode:
        """How this gauge aggregates across processes (``mostrecent`` unless set)."""
        if self.type is not MetricType.GAUGE:
            raise TypeError(f"{self.name} is a {self.type}, not a gauge")
        return self.multiprocess_mode or GaugeMode.MOSTRECENT

    @property
    def label_names(self) -> tuple[str, ...]:
        return tuple(label.name for label in self.labels)

    @property
    def series_bound(self) -> int:
        """Most distinct label sets kept before new ones fold into the overflow series."""
        if self.max_series is not None:
            return self.max_series
        product = 1
        for label in self.labels:
            product *= label.cardinality
        return product

    def label(self, name: str) -> LabelSpec:
        for label in self.labels:
            if label.name == name:
                return label
        raise KeyError(f"{self.name} has no label {name!r}; labels: {', '.join(self.label_names)}")

    @property
    def series_names(self) -> tuple[str, ...]:
        """The sample names this metric produces in the text exposition format."""
        if self.type is MetricType.HISTOGRAM:
            suffixes = ("_bucket", "_sum", "_count", "_created")
            return tuple(self.name + suffix for suffix in suffixes)
        if self.type is MetricType.COUNTER:
            return (self.name, self.name.removesuffix("_total") + "_created")
        return (self.name,)

    @property
    def family_name(self) -> str:
        """The name of the metric family (OpenMetrics drops a counter's ``_total``)."""
        return self.name.removesuffix("_total") if self.type is MetricType.COUNTER else self.name


class Catalog(BaseModel):
    """An ordered, name-unique set of metric specs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    metrics: tuple[MetricSpec, ...]

    @model_validator(mode="after")
    def _unique(self) -> Self:
        seen: set[str] = set()
        exposed: dict[str, str] = {}  # sample or family name -> the metric that exposes it
        for spec in self.metrics:
            if spec.name in seen:
                raise ValueError(f"metric {spec.name} is defined twice")
            seen.add(spec.name)
            for exposed_name in dict.fromkeys((spec.family_name, *spec.series_names)):
                owner = exposed.setdefault(exposed_name, spec.name)
                if owner != spec.name:
                    raise ValueError(
                        f"metrics {owner} and {spec.name} both expose {exposed_name!r}; "
                        "rename one of them"
                    )
        return self

    def __iter__(self) -> Iterator[MetricSpec]:  # type: ignore[override]
        return iter(self.metrics)

    def __len__(self) -> int:
        return len(self.metrics)

    def __contains__(self, name: object) -> bool:
        return any(spec.name == name for spec in self.metrics)

    def __getitem__(self, name: str) -> MetricSpec:
        for spec in self.metrics:
            if spec.name == name:
                return spec
        raise KeyError(f"{name} is not in the ACGS metric catalog")

    def extended(self, extra: Iterable[MetricSpec]) -> Catalog:
        """A new catalog with ``extra`` specs added (a service's own metrics, say)."""
        return Catalog(metrics=(*self.metrics, *extra))

    def by_series_name(self) -> dict[str, MetricSpec]:
        """Map each exposed sample name (``_bucket``, ``_sum``, ...) to its metric (one
        metric per name: the catalog refuses collisions when it loads)."""
        return {series: spec for spec in self.metrics for series in spec.series_names}
