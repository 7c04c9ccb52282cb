"""A live Prometheus as a :class:`~acgs_promql.sources.base.MetricSource` of the index.

Asked once, with the series names the linted expressions read, it fetches the server's view
of them (:func:`~acgs_promql.live.view.fetch`) and answers with the families
``/api/v1/metadata`` types: a counter under its PromQL name (``_total``, which OpenMetrics
targets leave out of the metadata), a histogram or summary under its family name, with the
label names its series carry (None when none of its series were asked for). Names with
series but no metadata (recorded series on that server) give no family. The fetched
:attr:`view` then serves the live checks.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping

import httpx

from acgs_promql.live.view import LiveView, fetch
from acgs_promql.sources.base import MetricFamily, Source

__all__ = ["LiveSource", "live_families"]

_TYPES = frozenset({"counter", "gauge", "histogram", "summary", "info", "stateset", "untyped"})
# A series suffix and the family types that expose it.
_SUFFIXES = {
    "_bucket": ("histogram",),
    "_sum": ("histogram", "summary"),
    "_count": ("histogram", "summary"),
    "_total": ("counter",),
    "_info": ("info",),
}
_ASIDE = frozenset({"le", "quantile"})  # series labels the index adds itself


def _family_of(name: str, metadata: Mapping[str, str]) -> tuple[str, str] | None:
    """(family as the metadata names it, its type) for a series name."""
    if metadata.get(name) in _TYPES:
        return name, metadata[name]
    for suffix, kinds in _SUFFIXES.items():
        family = name.removesuffix(suffix)
        if family != name and metadata.get(family) in kinds:
            return family, metadata[family]
    return None


def _labels(view: LiveView, family: str) -> frozenset[str] | None:
    seen: set[str] = set()
    asked = False
    for suffix in ("", *_SUFFIXES):
        metric = view.metric(family + suffix)
        if metric is not None and metric.series:
            asked = True
            seen |= set(metric.labels)
    return frozenset(seen - _ASIDE) if asked else None


def live_families(view: LiveView, wanted: Collection[str]) -> Iterator[MetricFamily]:
    """The families of ``wanted`` names that the server's metadata types."""
    done: set[str] = set()
    for name in sorted(wanted):
        found = _family_of(name, view.metadata)
        if found is None or found[0] in done:
            continue
        family, kind = found
        done.add(family)
        promql = (
            family + "_total" if kind == "counter" and not family.endswith("_total") else family
        )
        plain = view.metric(family)
        yield MetricFamily(
            promql,
            kind,
            _labels(view, family),
            where=view.url,
            native_histogram=kind == "histogram" and plain is not None and plain.series > 0,
        )


class LiveSource:
    """The index's live Prometheus; :attr:`view` holds what it fetched."""

    kind = Source.LIVE

    def __init__(
        self,
        client: httpx.Client,
        *,
        lookback_s: float = 86_400.0,
        concurrency: int = 8,
        advance: Callable[[int], None] | None = None,
    ) -> None:
        self._client = client
        self._lookback_s = lookback_s
        self._concurrency = concurrency
        self._advance = advance
        self.view: LiveView | None = None

    def families(self, wanted: Collection[str]) -> Iterator[MetricFamily]:
        names = set(wanted)
        if self.view is None or not names <= set(self.view.metrics):
            self.view = fetch(
                self._client,
                names,
                lookback_s=self._lookback_s,
                concurrency=self._concurrency,
                advance=self._advance,
            )
        return live_families(self.view, names)
