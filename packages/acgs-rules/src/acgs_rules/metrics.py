"""What the linter knows about metric names: the ACGS catalog, exporters' known metric
lists (``data/known_metrics/*.txt``) and the recording rules being linted."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

from acgs_metrics.catalog import CATALOG, Catalog, MetricSpec


@dataclass(frozen=True)
class MetricInfo:
    name: str
    type: str  # counter, gauge, histogram, summary, untyped, unknown
    source: str  # "catalog", an exporter list name, or "recording rule"
    labels: frozenset[str] | None = None  # None: not known
    spec: MetricSpec | None = None
    family: str | None = None  # the family for _bucket/_sum/_count series


@cache
def known_lists() -> dict[str, dict[str, str]]:
    """Exporter name -> {metric family: type}, from the packaged data files."""
    result: dict[str, dict[str, str]] = {}
    folder = resources.files("acgs_rules") / "data" / "known_metrics"
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


class MetricIndex:
    """Looks up any series name: catalog first, then exporters, then recording rules."""

    def __init__(self, catalog: Catalog = CATALOG, recorded: set[str] | None = None) -> None:
        self.infos: dict[str, MetricInfo] = {}
        for source, families in known_lists().items():
            for family, kind in families.items():
                self._add_family(family, kind, source, None, None)
        for spec in catalog:
            labels = frozenset(spec.label_names)
            self._add_family(spec.name, spec.type.value, "catalog", labels, spec)
        for name in recorded or ():
            self.infos.setdefault(name, MetricInfo(name, "unknown", "recording rule"))

    def _add_family(
        self,
        family: str,
        kind: str,
        source: str,
        labels: frozenset[str] | None,
        spec: MetricSpec | None,
    ) -> None:
        self.infos[family] = MetricInfo(family, kind, source, labels, spec, family)
        if kind in ("histogram", "summary"):
            for suffix in ("_sum", "_count"):
                self.infos[family + suffix] = MetricInfo(
                    family + suffix, "counter", source, labels, spec, family
                )
        if kind == "histogram":
            bucket_labels = labels | {"le"} if labels is not None else None
            self.infos[family + "_bucket"] = MetricInfo(
                family + "_bucket", "counter", source, bucket_labels, spec, family
            )
            if spec is not None:  # classic histograms have no plain series
                del self.infos[family]
        if kind == "summary" and labels is not None:
            self.infos[family] = MetricInfo(family, "gauge", source, labels | {"quantile"}, spec)
        if kind in ("counter", "histogram") and spec is not None:
            created = family.removesuffix("_total") + "_created"
            self.infos[created] = MetricInfo(created, "gauge", source, labels, spec, family)

    def get(self, name: str) -> MetricInfo | None:
        return self.infos.get(name)

    def is_counter(self, name: str) -> bool | None:
        """True/False when the type is known; None when it is not."""
        info = self.infos.get(name)
        if info is None or info.type in ("unknown", "untyped"):
            return None
        return info.type == "counter"
