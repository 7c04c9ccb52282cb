"""The kinds of metric sources, in the order the index trusts them, and the source interface.

:class:`MetricIndex <acgs_promql.index.MetricIndex>` asks the sources in :class:`Source`
order and the first that knows a series name wins: the ACGS catalog, the series recording
rules write, the exporter lists, metric definitions in service code, a live Prometheus, and
last the naming conventions (which only guess a type, so checks relying on them report at
most a warning). One exception keeps foreign repositories honest: a metric that service code
or a live Prometheus defines differently from the catalog (another type or other labels) is
not the catalog's, and the catalog's schema is not applied to it.

A source outside this package (the live linter's Prometheus) implements
:class:`MetricSource`: it is asked once, with the names the linted expressions read, for the
families it knows.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

__all__ = ["ORDER", "MetricFamily", "MetricSource", "Source"]


class Source(StrEnum):
    """Where a fact about a metric came from (the value is what findings say)."""

    CATALOG = "the ACGS catalog"
    RECORDED = "recording rule"
    EXPORTER = "exporter list"
    CODE = "service code"
    LIVE = "live Prometheus"
    CONVENTION = "naming convention"


# First one wins.
ORDER = tuple(Source)


@dataclass(frozen=True)
class MetricFamily:
    """One metric family as a source knows it.

    ``name`` is the family's name as PromQL sees it: with ``_total`` for a counter, without
    ``_bucket``/``_sum``/``_count`` for a histogram or summary (the index adds those series).
    ``type`` is counter, gauge, histogram, summary, info, stateset or untyped; ``labels`` the
    label names its series carry besides the target labels (None: not known); ``where`` the
    place to look (``app/metrics.py:12``, a URL, an exporter list's name).
    """

    name: str
    type: str
    labels: frozenset[str] | None = None
    where: str = ""
    # A histogram read by its plain name (native histogram): an exporter's or a live
    # Prometheus' histogram may be one; a classic histogram (prometheus_client, the catalog)
    # has only _bucket/_sum/_count series.
    native_histogram: bool = False


@runtime_checkable
class MetricSource(Protocol):
    """A source of metric families the index asks once (a live Prometheus, say)."""

    @property
    def kind(self) -> Source:
        """Where its families rank (:attr:`Source.LIVE` for a live Prometheus)."""
        ...

    def families(self, wanted: Collection[str]) -> Iterable[MetricFamily]:
        """The families it knows; ``wanted`` are the series names the linted expressions
        read, so an expensive source may look up only those (and may return others)."""
        ...
