"""Multiprocess mode: several worker processes (gunicorn, uvicorn --workers), one exposition.

prometheus_client switches every metric to memory-mapped files when
``PROMETHEUS_MULTIPROC_DIR`` is set *before* the metrics are created. A scrape then reads
all files in that directory through a ``MultiProcessCollector`` in a fresh registry, so
any worker can answer for all of them.

- Empty the directory before the workers start (stale files of an earlier run would be
  added in).
- Call :func:`mark_process_dead` with a worker's pid when it exits (gunicorn: in the
  ``child_exit`` hook), so ``live*`` gauges drop that worker's values.
- Counters and histograms are summed across processes; each catalog gauge says how its
  values combine (``MetricSpec.multiprocess_mode``).
"""

from __future__ import annotations

import functools
import glob
import json
import os
import threading
from collections.abc import Iterator
from typing import NamedTuple, cast

from prometheus_client import CollectorRegistry
from prometheus_client import multiprocess as _multiprocess
from prometheus_client.metrics_core import Metric
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString as _float_to_go_string

__all__ = [
    "ENV_VAR",
    "MultiprocessFiles",
    "check_multiprocess_dir",
    "mark_process_dead",
    "multiprocess_dir",
    "scrape_registry",
]

ENV_VAR = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> str | None:
    """The multiprocess directory when multiprocess mode is on, else None."""
    return os.environ.get(ENV_VAR) or None


def check_multiprocess_dir() -> None:
    """Fail early, and clearly, when multiprocess mode points at no directory."""
    path = multiprocess_dir()
    if path is not None and not os.path.isdir(path):
        raise ValueError(
            f"{ENV_VAR}={path} is not a directory: create it (empty) before the workers "
            f"start, or unset {ENV_VAR} for a single process"
        )


def scrape_registry(registry: CollectorRegistry) -> CollectorRegistry:
    """The registry one scrape should render.

    In multiprocess mode: a fresh registry that aggregates every process's files (this
    process's live metrics are in those files too, so ``registry`` is not read). Otherwise
    ``registry`` itself.
    """
    path = multiprocess_dir()
    if path is None:
        return registry
    check_multiprocess_dir()
    aggregate = CollectorRegistry()
    aggregate.register(MultiprocessFiles(path))
    return aggregate


def mark_process_dead(pid: int, path: str | None = None) -> None:
    """Forget an exited worker's ``live*`` gauge values (its counters stay counted)."""
    path = path or multiprocess_dir()
    if path is None:
        raise RuntimeError(f"mark_process_dead needs a directory: set {ENV_VAR} or pass path")
    _multiprocess.mark_process_dead(pid, path)  # type: ignore[no-untyped-call]


Labels = tuple[tuple[str, str], ...]
# name, labels, value, timestamp, special (see acgs_metrics.rendering.Row; never special here)
Row = tuple[str, Labels, float, None, bool]

# Gauge modes whose values combine across processes (the pid label goes).
COMBINED_GAUGE_MODES = frozenset(
    {"min", "livemin", "max", "livemax", "sum", "livesum", "mostrecent", "livemostrecent"}
)
# Parsed file keys kept across scrapes; past this many (label churn) the cache starts over.
MAX_CACHED_KEYS = 500_000


class FileKey(NamedTuple):
    """One key of a metric file, parsed once: the sample's name and labels, and the forms
    the merge needs (without ``le`` for histogram buckets, without ``pid`` for gauges)."""

    metric: str
    name: str
    labels: Labels  # sorted
    help: str
    le: float | None  # a histogram bucket's upper bound
    without_le: Labels
    without_pid: Labels


# (key, value, timestamp, pid): a file entry, before the processes are combined
Entry = tuple[FileKey, float, float, str]
_parsed_keys: dict[str, FileKey] = {}
_parsed_lock = threading.Lock()


class MultiprocessFiles:
    """Every worker's metric files in one directory, merged exactly as prometheus_client's
    ``MultiProcessCollector`` merges them (same values, same order, so the same bytes), in
    less time: each file key's JSON is parsed once per process rather than on every scrape,
    and :mod:`acgs_metrics.rendering` reads the merged rows without ``Sample`` objects."""

    def __init__(self, path: str) -> None:
        self._path = path

    def collect(self) -> Iterator[Metric]:
        for header, rows in self.families():
            metric = Metric(header.name, header.documentation, header.type)
            metric.samples = [Sample(name, dict(labels), value) for name, labels, value, *_ in rows]
            yield metric

    def families(self) -> list[tuple[Metric, list[Row]]]:
        read = _read(glob.glob(os.path.join(self._path, "*.db")))
        return [(header, _accumulate(header, mode, entries)) for header, mode, entries in read]


def _parse_key(key: str) -> FileKey:
    metric, name, labels, help_text = json.loads(key)
    ordered = tuple(sorted(labels.items()))
    le = labels.get("le")
    parsed = FileKey(
        metric,
        name,
        ordered,
        help_text,
        None if le is None else float(le),
        tuple(label for label in ordered if label[0] != "le"),
        tuple(label for label in ordered if label[0] != "pid"),
    )
    with _parsed_lock:
        if len(_parsed_keys) >= MAX_CACHED_KEYS:
            _parsed_keys.clear()
        _parsed_keys[key] = parsed
    return parsed


def _read(files: list[str]) -> list[tuple[Metric, str, list[Entry]]]:
    """Each metric's header, gauge mode and file entries, in order of first appearance."""
    metrics: dict[str, tuple[Metric, list[str], list[Entry]]] = {}
    cached = _parsed_keys
    for path in files:
        parts = os.path.basename(path).split("_")
        kind = parts[0]
        pid = parts[2][:-3] if kind == "gauge" else ""
        try:
            values = MmapedDict.read_all_values_from_file(path)  # type: ignore[no-untyped-call]
        except FileNotFoundError:
            if kind == "gauge" and parts[1].startswith("live"):
                continue  # a dead worker's live gauges, removed since the glob
            raise
        for key, value, timestamp, _ in values:
            parsed = cached.get(key) or _parse_key(key)
            entry = metrics.get(parsed.metric)
            if entry is None:
                header = Metric(parsed.metric, parsed.help, kind)
                entry = metrics[parsed.metric] = (header, [""], [])
            if kind == "gauge":
                entry[1][0] = parts[1]  # the last file's mode wins, as in prometheus_client
            entry[2].append((parsed, value, timestamp, pid))
    return [(header, mode[0], entries) for header, mode, entries in metrics.values()]


def _accumulate(header: Metric, mode: str, entries: list[Entry]) -> list[Row]:
    """Combine the processes' entries: sum counters, histograms and summaries (buckets made
    cumulative, ``_count`` from the buckets), and gauges as their mode says."""
    groups: dict[Labels, dict[tuple[str, Labels], float]] = {}
    if header.type == "gauge":
        _combine_gauges(groups, mode, entries)
    else:
        buckets: dict[Labels, dict[float, float]] = {}
        for key, value, _, _ in entries:
            if key.le is None:
                group = groups.setdefault(key.labels, {})
                sample = (key.name, key.labels)
                group[sample] = group.get(sample, 0.0) + value
            else:
                by_bound = buckets.setdefault(key.without_le, {})
                by_bound[key.le] = by_bound.get(key.le, 0.0) + value
        bucket_name, count_name = header.name + "_bucket", header.name + "_count"
        for series, by_bound in buckets.items():
            group = groups.setdefault(series, {})
            total = 0.0
            for bound, value in sorted(by_bound.items()):
                total += value
                group[(bucket_name, (*series, ("le", _bound_text(bound))))] = total
            group[(count_name, series)] = total
    return [
        (name, labels, value, None, False)
        for group in groups.values()
        for (name, labels), value in group.items()
    ]


@functools.lru_cache(maxsize=4096)
def _bound_text(bound: float) -> str:
    return cast(str, _float_to_go_string(bound))  # type: ignore[no-untyped-call]


def _combine_gauges(
    groups: dict[Labels, dict[tuple[str, Labels], float]], mode: str, entries: list[Entry]
) -> None:
    combined = mode in COMBINED_GAUGE_MODES
    newest: dict[tuple[Labels, str], float] = {}
    for key, value, timestamp, pid in entries:
        labels = key.without_pid if combined else (*key.labels, ("pid", pid))
        sample = (key.name, labels)
        if mode in ("min", "livemin"):
            group = groups.setdefault(labels, {})
            if value < group.setdefault(sample, value):
                group[sample] = value
        elif mode in ("max", "livemax"):
            group = groups.setdefault(labels, {})
            if value > group.setdefault(sample, value):
                group[sample] = value
        elif mode in ("sum", "livesum"):
            group = groups.setdefault(labels, {})
            group[sample] = group.get(sample, 0.0) + value
        elif mode in ("mostrecent", "livemostrecent"):
            stamp = float(timestamp or 0)
            if newest.get((labels, key.name), 0.0) < stamp:  # never written (0): left out
                groups.setdefault(labels, {})[sample] = value
                newest[(labels, key.name)] = stamp
        else:  # all, liveall: one series per process
            groups.setdefault(labels, {})[sample] = value
