"""Everything a check may look at, computed once per lint run.

Each rule's expression is an :class:`~acgs_promql.expression.Expression` (role ``alert`` or
``record``), parsed and walked once for every check. The metric index holds the catalog,
the exporter lists and the recording rules being linted (their expressions and static
labels), so recorded series' labels and sources come from one place.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from acgs_promql.analysis import Analysis
from acgs_promql.checks.base import CheckOptions
from acgs_promql.expression import Expression, Role
from acgs_promql.findings import Finding, Severity
from acgs_promql.index import MAX_RECORDING_DEPTH, MetricIndex, RecordedSeries
from acgs_promql.labels import LabelSet, output_labels
from acgs_promql.lexer import PromQLError
from acgs_promql.live.backtest import AlertBacktest
from acgs_promql.live.view import LiveView
from acgs_promql.settings import DECLARE_HINT
from acgs_promql.sources.base import MetricSource
from acgs_promql.tree import Expr, VectorSelector
from acgs_rules.alertmanager import AlertmanagerConfig
from acgs_rules.loader import Loaded, all_rules
from acgs_rules.model import Rule
from acgs_rules.settings import LintSettings

DEFAULT_INTERVALS_SAID = (
    "the default interval: pass --prometheus-config or --prometheus for your real ones"
)


@dataclass
class LintContext:
    loaded: Loaded
    settings: LintSettings
    alertmanager: AlertmanagerConfig | None = None
    repo_root: Path = field(default_factory=Path.cwd)
    # More sources of metric types and labels: service code, a live Prometheus.
    sources: Sequence[MetricSource] = ()
    # Where the scrape/evaluation intervals come from ("": the ACGS defaults).
    intervals_origin: str = ""
    live: LiveView | None = None  # --prometheus: set by use_live before the checks run
    backtests: dict[tuple[str, int], AlertBacktest] = field(default_factory=dict)
    backtest_max_fires: int = 5  # alert/backtest warns above this many fires
    index: MetricIndex = field(init=False)
    options: CheckOptions = field(init=False)  # for the PromQL checks
    _expressions: dict[int, Expression] = field(init=False, default_factory=dict)
    _recorders: dict[str, list[Rule]] = field(init=False, default_factory=dict)
    # id(rule) -> its place in its group (list.index would make latency quadratic).
    _positions: dict[int, int] = field(init=False, default_factory=dict)
    # (id(rule), depth) -> the delay of the series it reads (each rule followed once).
    _source_delays: dict[tuple[int, int], float] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        recorded = []
        for rule_file in self.loaded.rule_files:
            for group in rule_file.groups:
                self._positions.update((id(rule), i) for i, rule in enumerate(group.rules))
        for rule in self.rules():
            if not rule.is_alert:
                self._recorders.setdefault(rule.name, []).append(rule)
                recorded.append(RecordedSeries(rule.name, self.expression(rule), rule.labels))
        self.index = MetricIndex(recorded=recorded, sources=self.sources, wanted=self.read_names())
        self.options = CheckOptions(
            target_labels=frozenset(self.settings.target_labels),
            extra_metrics=self.settings.extra_metrics,
            declare_hint=DECLARE_HINT,
            min_prometheus_version=self.settings.min_prometheus_version,
            sample_interval=self.sample_spacing,
            interval_origin=self.interval_origin,
        )

    def use_live(self, live: LiveView) -> None:
        """Let the checks see the live Prometheus (series, label values, scrape intervals)."""
        self.live = live
        self.options = replace(self.options, live=live)

    def read_names(self) -> frozenset[str]:
        """Every metric name the rules read (what a live source needs to look up)."""
        names: set[str] = set()
        for rule in self.rules():
            analysis = self.analysis(rule)
            if analysis is not None:
                names |= analysis.metric_names
        return frozenset(names)

    def rules(self) -> Iterator[Rule]:
        return all_rules(self.loaded.rule_files)

    def alerts(self) -> Iterator[Rule]:
        return (r for r in self.rules() if r.is_alert)

    def expression(self, rule: Rule) -> Expression:
        """The rule's expression, parsed and walked on first use, then shared."""
        key = id(rule)
        if key not in self._expressions:
            role = Role.ALERT if rule.is_alert else Role.RECORD
            self._expressions[key] = Expression(rule.expr, role)
        return self._expressions[key]

    def tree(self, rule: Rule) -> Expr | None:
        """The parsed expression, or None when it does not parse (promql/syntax reports it)."""
        return self.expression(rule).tree

    def parse_error(self, rule: Rule) -> PromQLError | None:
        return self.expression(rule).error

    def analysis(self, rule: Rule) -> Analysis | None:
        return self.expression(rule).analysis

    def always_fires(self, rule: Rule) -> bool:
        """An expression that reads no metric (``vector(1)``): a watchdog / dead man's
        switch that fires all the time on purpose, to prove the alerting pipeline works."""
        analysis = self.analysis(rule)
        return analysis is not None and not analysis.selectors

    def expr_line(self, rule: Rule, pos: int) -> int:
        """The file line of character ``pos`` of the rule's expression (block scalars)."""
        if rule.expr_line == rule.line_of("expr"):
            return rule.expr_line
        return rule.expr_line + rule.expr[:pos].count("\n")

    def finding(
        self,
        rule: Rule,
        check: str,
        message: str,
        severity: Severity = Severity.ERROR,
        line: int | None = None,
    ) -> Finding:
        return Finding(
            rule.path, line or rule.line, check, severity, message, rule.name, anchor=rule.line
        )

    def recording_rules(self, name: str) -> list[Rule]:
        return self._recorders.get(name, [])

    def output_labels(self, rule: Rule) -> LabelSet | None:
        """The labels the rule's result carries, following recorded metrics to their
        recording expressions; None when the expression does not parse."""
        tree = self.tree(rule)
        return output_labels(tree, self.index.selector_labels) if tree is not None else None

    def group_interval(self, rule: Rule) -> float:
        return rule.group.interval or self.settings.evaluation_interval

    def sample_spacing(self, selector: VectorSelector) -> float:
        """Worst-case time between two samples of the series a selector reads.

        A recorded series gets a sample every evaluation of its recording group, whatever its
        sources' scrape intervals; a scraped one every scrape interval (a ``job`` matcher may
        name a faster job).
        """
        recorders = self.recording_rules(selector.name) if selector.name is not None else []
        if recorders:
            return max(self.group_interval(rule) for rule in recorders)
        return self._scrape_interval(selector)

    def selector_delay(
        self, selector: VectorSelector, reader: Rule | None = None, depth: int = 0
    ) -> float:
        """Worst-case age of the newest sample a selector reads, seen from rule ``reader``.

        Scraped metrics: their scrape interval (a ``job`` matcher may name a faster job).
        Recorded metrics: their sources' delay plus the recording group's interval, except
        when the recording rule runs earlier in the reader's own group (same evaluation).
        """
        job = self._job_interval(selector)
        if job is not None:
            return job
        recorders = self.recording_rules(selector.name) if selector.name is not None else []
        if not recorders or depth > MAX_RECORDING_DEPTH:
            return self._scrape_interval(selector)
        worst = 0.0
        for rule in recorders:
            delay = self._source_delay(rule, depth + 1)
            same_pass = (
                reader is not None
                and rule.group is reader.group
                and self._positions[id(rule)] < self._positions[id(reader)]
            )
            worst = max(worst, delay + (0.0 if same_pass else self.group_interval(rule)))
        return worst

    def _source_delay(self, rule: Rule, depth: int) -> float:
        """The worst delay of the selectors a recording rule reads, at ``depth``; remembered,
        as a rule read several times (or reading itself) would otherwise be walked once per
        path: exponential in the depth (minutes for `(r + r) + (r + r)` recording r)."""
        key = (id(rule), depth)
        if key not in self._source_delays:
            analysis = self.analysis(rule)
            uses = analysis.selectors if analysis is not None else []
            self._source_delays[key] = max(
                (self.selector_delay(u.selector, rule, depth) for u in uses), default=0.0
            )
        return self._source_delays[key]

    def _job_interval(self, selector: VectorSelector) -> float | None:
        """The scrape interval of the job a ``job`` matcher names, when the settings know it."""
        for matcher in selector.label_matchers():
            if matcher.name == "job":
                seconds = self.settings.job_scrape_interval(matcher.op, matcher.value)
                if seconds is not None:
                    return seconds
        return None

    def _scrape_interval(self, selector: VectorSelector) -> float:
        """How often the scraped series a selector reads get a sample."""
        job = self._job_interval(selector)
        if job is not None:
            return job
        if selector.name is None:
            return self.settings.scrape_interval
        live = self.live.scrape_interval(selector.name) if self.live is not None else None
        return live if live is not None else self.settings.scrape_interval_for(selector.name)

    def interval_origin(self, selector: VectorSelector) -> str:
        """Where :meth:`sample_spacing` found a selector's interval, said in findings."""
        if selector.name is not None and self.recording_rules(selector.name):
            return "its recording group's interval"
        live = self.live
        name = selector.name
        if (
            name is not None
            and live is not None
            and self._job_interval(selector) is None
            and live.scrape_interval(name) is not None
        ):
            return f"its targets' scrape interval in {live.url}"
        return f"from {self.intervals_origin}" if self.intervals_origin else DEFAULT_INTERVALS_SAID

    def file_finding(
        self, path: str, line: int, check: str, message: str, severity: Severity = Severity.ERROR
    ) -> Finding:
        return Finding(path, line, check, severity, message)
