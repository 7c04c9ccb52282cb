"""The check interface: each check is one module with a :class:`Check`, listed in ``CHECKS``.

A check looks at one dashboard (``per_dashboard``) or at every dashboard linted together
(``across``, e.g. duplicate uids) and yields :class:`Issue` objects. The runner turns them
into :class:`~acgs_promql.findings.Finding` objects, as the rule linter's (file, line,
``dashboard / panel``, check, severity, message), and drops the ones silenced with
``acgs-dashboards disable=CHECK`` (see :mod:`acgs_dashboards.model`). The PromQL checks are
:mod:`acgs_promql`'s, run over every query by :mod:`acgs_dashboards.lint.checks.promql`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from acgs_dashboards.model import Dashboard, Panel, Target, Variable
from acgs_promql.checks.base import CheckOptions
from acgs_promql.findings import Severity
from acgs_promql.index import MetricIndex, RecordedSeries
from acgs_promql.limits import DEFAULT_MAX_FILE_SIZE
from acgs_promql.sources.base import MetricSource

__all__ = ["DEFAULT_DATASOURCE_UIDS", "Check", "Context", "Issue", "LintOptions"]

DEFAULT_DATASOURCE_UIDS = frozenset({"acgs-prometheus"})


@dataclass(frozen=True)
class LintOptions:
    # Datasource uids a dashboard may name directly (the provisioned ones).
    datasource_uids: frozenset[str] = DEFAULT_DATASOURCE_UIDS
    # The global scrape interval: a rate() window under two of it returns gaps.
    scrape_interval_s: float = 15.0
    # Series recording rules write (from rules/*.yml): known, like catalog metrics, with
    # their expressions and static labels.
    recorded: tuple[RecordedSeries, ...] = ()
    # Labels every scraped series carries, whatever its metric.
    target_labels: frozenset[str] = frozenset({"job", "instance"})
    # Checks not to run (``--disable CHECK``), as in the rule linter.
    disabled_checks: frozenset[str] = frozenset()
    # Check name -> the severity its findings get (``severity_overrides`` in the settings).
    severity_overrides: Mapping[str, Severity] = field(default_factory=dict)
    # Regexes of metric names to accept as known (``extra_metrics``), as the rule linter.
    extra_metrics: tuple[str, ...] = ()
    # More sources of metric types and labels: service code (``--source``), a live Prometheus.
    sources: tuple[MetricSource, ...] = ()
    # Larger files are refused unread (``--max-file-size``): a dashboard file's parsed form
    # takes 10-20 times its size in memory.
    max_file_size: int = DEFAULT_MAX_FILE_SIZE


@dataclass(frozen=True)
class Issue:
    severity: Severity
    message: str
    panel: Panel | None = None
    target: Target | None = None
    variable: Variable | None = None
    line: int | None = None


@dataclass
class Context:
    options: LintOptions
    index: MetricIndex
    promql: CheckOptions  # what the PromQL checks are told
    # Per-dashboard caches shared by the checks (parsed queries), keyed by id(dashboard).
    cache: dict[int, object] = field(default_factory=dict)


PerDashboard = Callable[[Dashboard, Context], Iterable[Issue]]
Across = Callable[[Sequence[Dashboard], Context], Iterator[tuple[Dashboard, Issue]]]


@dataclass(frozen=True)
class Check:
    name: str
    summary: str
    per_dashboard: PerDashboard | None = None
    across: Across | None = None
