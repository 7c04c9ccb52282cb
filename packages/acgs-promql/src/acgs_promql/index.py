"""What is known about each metric name, and which source knows it.

Sources, first one wins (:class:`~acgs_promql.sources.base.Source` has the order): the ACGS
catalog (:mod:`acgs_metrics`; a histogram is its ``_bucket``/``_sum``/``_count`` series, a
counter or histogram also has ``_created``), the series recording rules write
(:class:`RecordedSeries`: name, expression, static labels), the packaged exporter lists
(``data/known_metrics/<exporter>.txt``, one ``family type`` line each, written by scripts
from the real exporters), then any :class:`~acgs_promql.sources.base.MetricSource` given
(metric definitions in service code, a live Prometheus), and last the naming conventions,
which only guess a type (:meth:`MetricIndex.typed`). A metric that service code or a live
Prometheus defines differently from the catalog is theirs: the catalog's schema is not
applied to it. A recorded series' labels follow its recording expression
(:meth:`MetricIndex.selector_labels`) and its sources are the scraped metrics under it
(:meth:`MetricIndex.base_metrics`).

The index is authoritative for the ``acgs_`` (catalog) and ``acgs:`` (recording rules)
namespaces; exporter lists may miss a version's or a collector's metrics.

:func:`read_recorded_series` reads recording rules from rule files and PrometheusRule
manifests tolerantly, for callers that do not lint the rules themselves (the dashboard
linter): a file that cannot be read or is not YAML is a ``rules/load`` finding.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from acgs_metrics import CATALOG, Catalog, MetricSpec
from acgs_promql.expression import Expression, Role
from acgs_promql.findings import Finding, Severity
from acgs_promql.labels import LabelSet, merge_label_sets, output_labels
from acgs_promql.limits import DEFAULT_MAX_FILE_SIZE, too_large
from acgs_promql.sources.base import ORDER, MetricFamily, MetricSource, Source
from acgs_promql.sources.conventions import guess
from acgs_promql.tree import VectorSelector

__all__ = [
    "AUTHORITATIVE_PREFIXES",
    "EXPORTER_PREFIXES",
    "MAX_RECORDING_DEPTH",
    "RECORDED",
    "RULES_LOAD",
    "MetricIndex",
    "MetricInfo",
    "RecordedRead",
    "RecordedSeries",
    "known_lists",
    "read_recorded_series",
]

RECORDED = Source.RECORDED  # MetricInfo.source of a recorded series
RULES_LOAD = "rules/load"  # check name of a rule file read_recorded_series could not read
# Namespaces whose every name the index knows: an unknown one is a mistake.
AUTHORITATIVE_PREFIXES = {"acgs_": "the ACGS catalog", "acgs:": "the recording rules"}
# Exporters whose metric set depends on their version and enabled collectors: a name with
# their prefix that is missing from the packaged list is probably real.
EXPORTER_PREFIXES = {
    "node_": "node_exporter",
    "prometheus_": "Prometheus",
    "alertmanager_": "Alertmanager",
    "haproxy_": "the haproxy exporter",
    "redis_": "the redis exporter",
    "pg_": "the postgres exporter",
}
MAX_RECORDING_DEPTH = 10  # recorded series read from recorded series, at most
# Types whose series carry _created in prometheus_client (and so in the catalog).
_WITH_CREATED = frozenset({"counter", "histogram", "summary"})
_SUGGESTION_CUTOFF = 0.85


@dataclass(frozen=True)
class MetricInfo:
    name: str
    type: str  # counter, gauge, histogram, summary, untyped, unknown
    source: Source
    labels: frozenset[str] | None = None  # None: not known
    spec: MetricSpec | None = None
    family: str | None = None  # the family for _bucket/_sum/_count series
    where: str = ""  # the exporter list, file:line or URL the source found it at
    native_histogram: bool = False  # a histogram family read by its plain name

    @property
    def origin(self) -> str:
        """Which source said so, for messages: ``service code app/metrics.py:12``."""
        if self.source is Source.CATALOG:
            return self.source.value
        return f"{self.source.value} {self.where}".rstrip()

    @property
    def guessed(self) -> bool:
        """Only the name's suffix says so: checks relying on it report a warning at most."""
        return self.source is Source.CONVENTION


@dataclass(frozen=True, eq=False)
class RecordedSeries:
    """A series a recording rule writes: its name, the rule's expression and static labels."""

    name: str
    expression: Expression
    labels: Mapping[str, str] = field(default_factory=dict)


@cache
def known_lists() -> dict[str, dict[str, str]]:
    """Exporter name -> {metric family: type}, from the packaged data files."""
    result: dict[str, dict[str, str]] = {}
    folder = resources.files("acgs_promql") / "data" / "known_metrics"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".txt"):
            continue
        families: dict[str, str] = {}
        for line in entry.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                name, kind = line.split()
                families[name] = kind
        result[entry.name.removesuffix(".txt")] = families
    return result


def _namespace(name: str) -> str:
    """``acgs_http_requests_total`` -> ``acgs``; ``job:up:sum`` -> ``job``."""
    cut = min((i for i in (name.find("_"), name.find(":")) if i > 0), default=len(name))
    return name[:cut]


def _series(family: MetricFamily, source: Source, spec: MetricSpec | None) -> Iterator[MetricInfo]:
    """The series names a family exposes, each with what its samples behave like."""
    name, kind, labels, where = family.name, family.type, family.labels, family.where

    def info(series: str, sample_type: str, extra: str | None = None) -> MetricInfo:
        with_extra = labels | {extra} if labels is not None and extra else labels
        return MetricInfo(series, sample_type, source, with_extra, spec, name, where)

    if kind in ("histogram", "summary"):
        yield info(name + "_sum", "counter")
        yield info(name + "_count", "counter")
    if kind == "histogram":
        yield info(name + "_bucket", "counter", "le")
        if family.native_histogram:
            yield MetricInfo(name, kind, source, labels, spec, name, where, native_histogram=True)
    elif kind == "summary" and source is not Source.CODE:  # prometheus_client: no quantiles
        yield MetricInfo(name, kind, source, labels and labels | {"quantile"}, spec, None, where)
    elif kind == "info":
        yield info(name if name.endswith("_info") else name + "_info", "gauge")
    elif kind not in ("histogram", "summary"):
        yield MetricInfo(
            name, "gauge" if kind == "stateset" else kind, source, labels, spec, None, where
        )
    if kind in _WITH_CREATED and source in (Source.CATALOG, Source.CODE):
        yield info(name.removesuffix("_total") + "_created", "gauge")


def _catalog_families(catalog: Catalog) -> Iterator[tuple[MetricFamily, MetricSpec]]:
    for spec in catalog:
        yield MetricFamily(spec.name, spec.type.value, frozenset(spec.label_names)), spec


def _exporter_families() -> Iterator[MetricFamily]:
    for exporter, families in known_lists().items():
        for name, kind in families.items():
            yield MetricFamily(name, kind, None, exporter, native_histogram=kind == "histogram")


def _not_the_catalogs(spec: MetricSpec, family: MetricFamily, source: Source) -> bool:
    """Service code or a live Prometheus defines this catalog name otherwise: another type,
    or (code, which names every label) other labels."""
    if family.type != spec.type.value:
        return True
    return (
        source is Source.CODE
        and family.labels is not None
        and (family.labels != frozenset(spec.label_names))
    )


class MetricIndex:
    """Looks up any series name: catalog, recorded series, exporter lists, then ``sources``
    (each asked once, with the names in ``wanted``) in :class:`Source` order."""

    def __init__(
        self,
        catalog: Catalog = CATALOG,
        recorded: Iterable[RecordedSeries] = (),
        sources: Sequence[MetricSource] = (),
        wanted: Collection[str] = (),
    ) -> None:
        ranked = sorted(sources, key=lambda source: ORDER.index(source.kind))
        self.asked = frozenset(source.kind for source in ranked)  # the sources beyond the lists
        found = [(source.kind, list(source.families(wanted))) for source in ranked]
        foreign = {
            f.name: (f, kind)
            for kind, families in reversed(found)
            if kind in (Source.CODE, Source.LIVE)
            for f in families
        }
        self.infos: dict[str, MetricInfo] = {}
        for family, spec in _catalog_families(catalog):
            other = foreign.get(family.name)
            if other is None or not _not_the_catalogs(spec, *other):
                self._add(_series(family, Source.CATALOG, spec))
        self._recorders: dict[str, list[RecordedSeries]] = {}
        for series in recorded:
            self._recorders.setdefault(series.name, []).append(series)
            self.infos.setdefault(series.name, MetricInfo(series.name, "unknown", RECORDED))
        for exporter_family in _exporter_families():
            self._add(_series(exporter_family, Source.EXPORTER, None))
        for kind, families in found:
            for family in families:
                self._add(_series(family, kind, None))
        self._labels: dict[str, LabelSet | None] = {}
        self._bases: dict[str, frozenset[str]] = {}
        self._suggestions: dict[str, str | None] = {}
        self._by_namespace: dict[str, dict[int, list[str]]] | None = None

    def _add(self, infos: Iterable[MetricInfo]) -> None:
        for info in infos:
            self.infos.setdefault(info.name, info)

    def get(self, name: str) -> MetricInfo | None:
        """What a source knows of ``name`` (None: no source knows it)."""
        return self.infos.get(name)

    def typed(self, name: str) -> MetricInfo | None:
        """Like :meth:`get`, else a type guessed from the name's suffix (source
        :attr:`Source.CONVENTION`); None when not even the name says anything."""
        info = self.infos.get(name)
        if info is not None:
            return info
        guessed = guess(name)
        if guessed is None:
            return None
        where = f"(the {guessed.suffix} suffix)"
        return MetricInfo(name, guessed.type, Source.CONVENTION, None, None, guessed.family, where)

    def is_counter(self, name: str) -> bool | None:
        """True/False when the type is known or guessed; None when it is not."""
        info = self.typed(name)
        if info is None or info.type in ("unknown", "untyped"):
            return None
        return info.type == "counter"

    def is_recorded(self, name: str) -> bool:
        """A recording rule writes this series."""
        return name in self._recorders

    def selector_labels(self, selector: VectorSelector) -> LabelSet | None:
        """A recorded series' labels: its recording expressions' plus their static labels
        (None for scraped series, and when an expression does not parse)."""
        name = selector.name
        recorders = self._recorders.get(name) if name is not None else None
        if name is None or not recorders:
            return None
        if name in self._labels:  # known, or None while being worked out (a cycle)
            return self._labels[name]
        self._labels[name] = None
        sets: list[LabelSet] = []
        for series in recorders:
            tree = series.expression.tree
            if tree is None:
                return None
            labels = output_labels(tree, self.selector_labels)
            labels = labels.drop(frozenset(k for k, v in series.labels.items() if not v))
            sets.append(labels.add(frozenset(k for k, v in series.labels.items() if v)))
        self._labels[name] = merge_label_sets(sets)
        return self._labels[name]

    def base_metrics(self, name: str, depth: int = 0) -> frozenset[str]:
        """The scraped metrics a series comes from: itself, unless a recording rule writes it."""
        if name in self._bases:
            return self._bases[name]
        recorders = self._recorders.get(name)
        if not recorders or depth > MAX_RECORDING_DEPTH:
            return frozenset({name})
        result: set[str] = set()
        for series in recorders:
            analysis = series.expression.analysis
            for metric in analysis.metric_names if analysis is not None else ():
                result |= self.base_metrics(metric, depth + 1)
        self._bases[name] = frozenset(result)
        return self._bases[name]

    def suggestion(self, name: str) -> str | None:
        """A known name close to ``name`` (a typo's fix), from its own namespace only, and
        only among names of a length that could reach the cutoff (difflib's ratio is
        ``2 * matches / (len(a) + len(b))``): one bucket lookup instead of a scan."""
        if name not in self._suggestions:
            if self._by_namespace is None:
                self._by_namespace = {}
                for known in self.infos:
                    lengths = self._by_namespace.setdefault(_namespace(known), {})
                    lengths.setdefault(len(known), []).append(known)
            lengths = self._by_namespace.get(_namespace(name), {})
            size = len(name)
            low, high = (
                size * _SUGGESTION_CUTOFF / (2 - _SUGGESTION_CUTOFF),
                size * (2 - _SUGGESTION_CUTOFF) / _SUGGESTION_CUTOFF,
            )
            candidates = [
                known
                for length, names in lengths.items()
                if low <= length <= high
                for known in names
            ]
            close = difflib.get_close_matches(name, candidates, n=1, cutoff=_SUGGESTION_CUTOFF)
            self._suggestions[name] = close[0] if close else None
        return self._suggestions[name]


# --- recorded series from rule files ------------------------------------------------------

_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SUFFIXES = (".yml", ".yaml")


@dataclass(frozen=True)
class RecordedRead:
    series: tuple[RecordedSeries, ...]
    findings: tuple[Finding, ...]  # rule files that could not be read


def _unreadable(path: Path, line: int, problem: str) -> Finding:
    message = (
        f"{problem}; the metrics this file records are unknown until it loads: "
        "run acgs-rules lint on it"
    )
    return Finding(str(path), line, RULES_LOAD, Severity.ERROR, message)


def _rule_files(paths: Iterable[Path], findings: list[Finding]) -> list[Path]:
    """Files as given, directories walked for ``*.yml``/``*.yaml``; each file once."""
    files: list[Path] = []
    seen: set[Path] = set()
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix in _SUFFIXES and p.is_file())
        elif path.is_file():
            found = [path]
        else:
            findings.append(_unreadable(path, 0, "no such file or directory"))
            continue
        for file in found:
            if file.resolve() not in seen:
                seen.add(file.resolve())
                files.append(file)
    return files


def _documents(path: Path, findings: list[Finding]) -> list[Any]:
    try:
        return list(yaml.load_all(path.read_text(encoding="utf-8"), Loader=_LOADER))
    except (OSError, UnicodeDecodeError) as error:
        findings.append(_unreadable(path, 0, str(error)))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or str(error)
        findings.append(_unreadable(path, mark.line + 1 if mark else 0, f"invalid YAML: {problem}"))
    except RecursionError:
        findings.append(_unreadable(path, 0, "invalid YAML: nested too deeply"))
    return []


def _groups(document: Any) -> list[Any]:
    """The rule groups of a rule file or a PrometheusRule manifest (else none)."""
    if not isinstance(document, dict):
        return []
    if document.get("kind") == "PrometheusRule":
        spec = document.get("spec")
        document = spec if isinstance(spec, dict) else {}
    groups = document.get("groups")
    return groups if isinstance(groups, list) else []


def _recorded(rule: Any) -> RecordedSeries | None:
    if not isinstance(rule, dict):
        return None
    name, expr, labels = rule.get("record"), rule.get("expr"), rule.get("labels")
    if not isinstance(name, str) or not isinstance(expr, str):
        return None
    static = {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}
    return RecordedSeries(name, Expression(expr, Role.RECORD), static)


def read_recorded_series(
    paths: Iterable[Path],
    max_file_size: int = DEFAULT_MAX_FILE_SIZE,
    size_option: str = "--max-file-size",
) -> RecordedRead:
    """The recording rules under ``paths`` (rule files and PrometheusRule manifests).

    Tolerant: documents that are not rule files and rules without a readable ``record`` and
    ``expr`` are skipped (``acgs-rules lint`` reports them); a missing path, an unreadable
    file, a file over ``max_file_size`` bytes or invalid YAML is a ``rules/load`` finding
    with the file and line.
    """
    findings: list[Finding] = []
    series: list[RecordedSeries] = []
    for path in _rule_files(paths, findings):
        refused = too_large(path, max_file_size, size_option)
        if refused is not None:
            findings.append(_unreadable(path, 0, refused))
            continue
        for document in _documents(path, findings):
            for group in _groups(document):
                rules = group.get("rules") if isinstance(group, dict) else None
                for rule in rules if isinstance(rules, list) else []:
                    recorded = _recorded(rule)
                    if recorded is not None:
                        series.append(recorded)
    return RecordedRead(tuple(series), tuple(findings))
