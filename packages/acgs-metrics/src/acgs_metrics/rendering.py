"""Exposition in less time: the same bytes as prometheus_client's two renderers.

prometheus_client formats every label of every sample on every scrape: it builds the label
dict, sorts it, validates and escapes each name and value. A series' labels do not change
between scrapes, so here each series' line prefix (``name{labels} ``) is formatted once, by
the same escaping functions, and kept; a scrape then writes prefix + value. For the
library's own metrics (prometheus_client metric objects) the children are read directly,
without building the intermediate ``Metric`` families.

The output is byte-identical to ``prometheus_client.generate_latest`` (text 0.0.4) and to
``prometheus_client.openmetrics.exposition.generate_latest``, for every escaping scheme:
tests compare them on random label sets, in multiprocess mode too. A family this module
does not format itself (exemplars or native histograms in OpenMetrics) is handed to
prometheus_client whole, so nothing is ever rendered differently.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import Any, NamedTuple, cast

from prometheus_client import CollectorRegistry
from prometheus_client import exposition as text_exposition
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics import exposition as om
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString as _float_to_go_string
from prometheus_client.validation import _is_valid_legacy_metric_name

from acgs_metrics.multiprocess import MultiprocessFiles

__all__ = ["Family", "Renderer", "Row", "choose_renderer", "families", "go_float"]

# Formatted prefixes kept per renderer; past this many (label churn), the cache starts over.
MAX_CACHED_PREFIXES = 500_000
# Text 0.0.4 moves these OpenMetrics-only samples into gauge families after their family.
TEXT_MOVED_SUFFIXES = ("_created", "_gsum", "_gcount")
TEXT_TYPES = {"info": "gauge", "stateset": "gauge", "gaugehistogram": "histogram"}

# (sample name, label items in series order)
PrefixKey = tuple[str, tuple[tuple[str, str], ...]]


# One sample: name, label items, value, timestamp, and whether it carries an exemplar or a
# native histogram (which OpenMetrics needs the reference renderer for). A plain tuple: one
# is made for every sample of every scrape.
Row = tuple[str, tuple[tuple[str, str], ...], float, Any, Any]


def go_float(value: float) -> str:
    """``floatToGoString``, with the common case (a whole number below 10**6, which Go and
    Python write alike) answered without its checks."""
    text = repr(float(value))
    if text.endswith(".0") and len(text) <= 8:
        return text
    return cast(str, _float_to_go_string(value))  # type: ignore[no-untyped-call]


class Family(NamedTuple):
    """A family to render: its header (a ``Metric``, samples unused), its rows, and how to get
    the whole ``Metric`` with samples when prometheus_client must render it."""

    metric: Metric
    rows: Iterable[Row]
    whole: Callable[[], Metric]


class _NeedsReference(Exception):
    """Raised while formatting a family this module leaves to prometheus_client."""


class Renderer:
    """One exposition format and escaping scheme, with its cache of formatted prefixes."""

    def __init__(self, openmetrics: bool, escaping: str = om.UNDERSCORES, version: str = "1.0.0"):
        self.openmetrics = openmetrics
        self.escaping = escaping
        self.version = version
        self._prefixes: dict[PrefixKey, str] = {}
        self._headers: dict[tuple[str, str, str, str], str] = {}
        self._lock = threading.Lock()

    def reference(self) -> Callable[[Collector], bytes]:
        """prometheus_client's renderer for the same format: the anchor, and the fallback."""
        if self.openmetrics:
            return partial(om.generate_latest, escaping=self.escaping, version=self.version)
        return partial(text_exposition.generate_latest, escaping=self.escaping)

    def __call__(self, source: Collector) -> bytes:
        out: list[str] = []
        for family in families(source):
            self._family(out, family)
        if self.openmetrics:
            out.append("# EOF\n")
        return "".join(out).encode("utf-8")

    def _family(self, out: list[str], family: Family) -> None:
        metric, rows, whole = family
        lines: list[str] = []
        try:
            lines.append(self._header(metric.name, metric.type, metric.documentation, metric.unit))
            if self.openmetrics:
                self._openmetrics_lines(lines, metric, rows)
            else:
                self._text_lines(lines, metric, rows)
        except _NeedsReference:
            out.append(self._whole(whole()))
            return
        except Exception as exception:  # named as the reference renderer names it
            exception.args = (*(exception.args or ("",)), metric)
            raise
        out.extend(lines)

    def _openmetrics_lines(self, out: list[str], metric: Metric, rows: Iterable[Row]) -> None:
        prefix = self._prefix
        for name, items, value, timestamp, special in rows:
            if special:  # an exemplar or a native histogram
                raise _NeedsReference
            shown = "" if value is None else go_float(value)
            stamp = "" if timestamp is None else f" {timestamp}"
            out.append(f"{prefix(name, items)}{shown}{stamp}\n")

    def _text_lines(self, out: list[str], metric: Metric, rows: Iterable[Row]) -> None:
        prefix = self._prefix
        moved = {metric.name + suffix: suffix for suffix in TEXT_MOVED_SUFFIXES}
        moved_lines: dict[str, list[str]] = {}
        for name, items, value, timestamp, _ in rows:
            stamp = "" if timestamp is None else f" {int(float(timestamp) * 1000):d}"
            line = f"{prefix(name, items)}{go_float(value)}{stamp}\n"
            suffix = moved.get(name)
            if suffix is None:
                out.append(line)
            else:
                moved_lines.setdefault(suffix, []).append(line)
        for suffix, lines in sorted(moved_lines.items()):
            out.append(self._header(metric.name + suffix, "gauge", metric.documentation, ""))
            out.extend(lines)

    def _prefix(self, name: str, items: tuple[tuple[str, str], ...]) -> str:
        key = (name, items)
        try:
            return self._prefixes[key]
        except KeyError:
            pass
        built = (_openmetrics_prefix if self.openmetrics else _text_prefix)(
            name, dict(items), self.escaping
        )
        with self._lock:
            if len(self._prefixes) >= MAX_CACHED_PREFIXES:
                self._prefixes.clear()
            self._prefixes[key] = built
        return built

    def _header(self, name: str, kind: str, documentation: str, unit: str) -> str:
        key = (name, kind, documentation, unit)
        try:
            return self._headers[key]
        except KeyError:
            pass
        header = (_openmetrics_header if self.openmetrics else _text_header)(
            name, kind, documentation, unit, self.escaping
        )
        with self._lock:
            if len(self._headers) >= MAX_CACHED_PREFIXES:
                self._headers.clear()
            self._headers[key] = header
        return header

    def _whole(self, metric: Metric) -> str:
        """One family as prometheus_client renders it (without the OpenMetrics trailer)."""
        text = self.reference()(_OneFamily(metric)).decode("utf-8")
        return text.removesuffix("# EOF\n")


def choose_renderer(accept: str) -> tuple[Renderer, str]:
    """The renderer and content type for an Accept header, negotiated as prometheus_client
    does (``choose_encoder``)."""
    encoder, content_type = text_exposition.choose_encoder(accept)
    function = getattr(encoder, "func", encoder)
    options = getattr(encoder, "keywords", {})
    openmetrics = function is om.generate_latest
    key = (openmetrics, options.get("escaping", om.UNDERSCORES), options.get("version", "1.0.0"))
    with _RENDERERS_LOCK:
        renderer = _RENDERERS.get(key)
        if renderer is None:
            renderer = _RENDERERS[key] = Renderer(*key)
    return renderer, content_type


_RENDERERS: dict[tuple[bool, str, str], Renderer] = {}
_RENDERERS_LOCK = threading.Lock()


class _OneFamily:
    def __init__(self, metric: Metric) -> None:
        self._metric = metric

    def collect(self) -> list[Metric]:
        return [self._metric]


def families(source: Collector) -> Iterator[Family]:
    """A registry's families in ``collect()`` order. prometheus_client metric objects and
    merged multiprocess files are read without building ``Sample``s."""
    if not isinstance(source, CollectorRegistry):
        yield from _collected(source)
        return
    with source._lock:
        collectors = list(source._collector_to_names)
        target_info = source._target_info_metric() if source._target_info else None  # type: ignore[no-untyped-call]
    if target_info is not None:
        yield from _collected(_OneFamily(target_info))
    for collector in collectors:
        if isinstance(collector, MultiprocessFiles):
            for metric, rows in collector.families():
                yield Family(metric, rows, partial(_with_samples, metric, rows))
        elif (
            isinstance(collector, MetricWrapperBase)
            and type(collector).collect is MetricWrapperBase.collect
        ):
            yield _wrapper_family(collector)
        else:
            yield from _collected(collector)


def _collected(collector: Collector) -> Iterator[Family]:
    for metric in collector.collect():
        rows = (
            (
                s.name,
                tuple(s.labels.items()),
                s.value,
                s.timestamp,
                s.exemplar or s.native_histogram,
            )
            for s in metric.samples
        )
        yield Family(metric, rows, partial(lambda m: m, metric))


def _wrapper_family(parent: MetricWrapperBase) -> Family:
    """The family ``parent.collect()`` would return, its samples in the same order."""

    def rows() -> Iterator[Row]:
        name = parent._name
        if not parent._is_parent():  # type: ignore[no-untyped-call]
            for suffix, labels, value, timestamp, exemplar, native in parent._samples():
                yield name + suffix, tuple(labels.items()), value, timestamp, exemplar or native
            return
        with parent._lock:
            children = parent._metrics.copy()
        label_names = parent._labelnames
        for values, child in children.items():
            series = tuple(zip(label_names, values, strict=True))
            for suffix, labels, value, timestamp, exemplar, native in child._samples():
                items = series + tuple(labels.items()) if labels else series
                yield name + suffix, items, value, timestamp, exemplar or native

    metric = parent._get_metric()  # type: ignore[no-untyped-call]
    return Family(metric, rows(), lambda: next(iter(parent.collect())))


def _with_samples(metric: Metric, rows: list[Row]) -> Metric:
    whole = Metric(metric.name, metric.documentation, metric.type, metric.unit)
    whole.samples = [Sample(n, dict(items), v, ts) for n, items, v, ts, _ in rows]
    return whole


def _text_header(name: str, kind: str, documentation: str, unit: str, escaping: str) -> str:
    shown = name
    if kind == "counter":
        shown = name + "_total"
    elif kind == "info":
        shown = name + "_info"
    kind = TEXT_TYPES.get(kind, "untyped" if kind == "unknown" else kind)
    escaped = om.escape_metric_name(shown, escaping)
    help_text = documentation.replace("\\", r"\\").replace("\n", r"\n")
    return f"# HELP {escaped} {help_text}\n# TYPE {escaped} {kind}\n"


def _openmetrics_header(name: str, kind: str, documentation: str, unit: str, escaping: str) -> str:
    escaped = om.escape_metric_name(name, escaping)
    help_text = om._escape(documentation, om.ALLOWUTF8, om._is_legacy_labelname_rune)
    header = f"# HELP {escaped} {help_text}\n# TYPE {escaped} {kind}\n"
    return header + (f"# UNIT {escaped} {unit}\n" if unit else "")


def _text_prefix(name: str, labels: dict[str, str], escaping: str) -> str:
    labelstr = ",".join(
        f'{om.escape_label_name(k, escaping)}="{om._escape(v, om.ALLOWUTF8, False)}"'  # type: ignore[arg-type]
        for k, v in sorted(labels.items())
    )
    escaped = om.escape_metric_name(name, escaping)
    if escaping != om.ALLOWUTF8 or _is_valid_legacy_metric_name(name):
        return f"{escaped}{{{labelstr}}} " if labelstr else f"{escaped} "
    return f"{{{escaped}{',' if labelstr else ''}{labelstr}}} "


def _openmetrics_prefix(name: str, labels: dict[str, str], escaping: str) -> str:
    legacy = om._is_legacy_labelname_rune
    labelstr = ""
    quoted_name = escaping == om.ALLOWUTF8 and not _is_valid_legacy_metric_name(name)
    if quoted_name:
        labelstr = om.escape_metric_name(name, escaping) + ("," if labels else "")
    if labels:
        labelstr += ",".join(
            f'{om.escape_label_name(k, escaping)}="{om._escape(v, om.ALLOWUTF8, legacy)}"'
            for k, v in sorted(labels.items())
        )
    if labelstr:
        labelstr = "{" + labelstr + "}"
    if quoted_name:
        return f"{labelstr} "
    return f"{om._escape(name, escaping, legacy)}{labelstr} "
