"""Everything a check may look at, computed once per lint run."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from acgs_rules.alertmanager import AlertmanagerConfig
from acgs_rules.loader import Loaded, all_rules
from acgs_rules.metrics import MetricIndex
from acgs_rules.model import Finding, Rule, Severity
from acgs_rules.promql import (
    Expr,
    LabelSet,
    PromQLError,
    SelectorUse,
    VectorSelector,
    analyze,
    merge_label_sets,
    output_labels,
    parse,
)
from acgs_rules.settings import LintSettings


@dataclass
class LintContext:
    loaded: Loaded
    settings: LintSettings
    alertmanager: AlertmanagerConfig | None = None
    repo_root: Path = field(default_factory=Path.cwd)
    index: MetricIndex = field(init=False)
    _trees: dict[int, Expr | PromQLError] = field(init=False, default_factory=dict)
    _recorders: dict[str, list[Rule]] | None = field(init=False, default=None)
    _recorded_labels: dict[str, LabelSet | None] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        recorded = {r.name for r in self.rules() if not r.is_alert}
        self.index = MetricIndex(recorded=recorded)

    def rules(self) -> Iterator[Rule]:
        return all_rules(self.loaded.rule_files)

    def alerts(self) -> Iterator[Rule]:
        return (r for r in self.rules() if r.is_alert)

    def tree(self, rule: Rule) -> Expr | None:
        """The parsed expression, or None when it does not parse (promql/syntax reports it)."""
        key = id(rule)
        if key not in self._trees:
            try:
                self._trees[key] = parse(rule.expr)
            except PromQLError as error:
                self._trees[key] = error
            except RecursionError:
                self._trees[key] = PromQLError("expression nested too deeply", rule.expr, 0)
        result = self._trees[key]
        return None if isinstance(result, PromQLError) else result

    def always_fires(self, rule: Rule) -> bool:
        """An expression that reads no metric (``vector(1)``): a watchdog / dead man's
        switch that fires all the time on purpose, to prove the alerting pipeline works."""
        tree = self.tree(rule)
        return tree is not None and not analyze(tree).selectors

    def parse_error(self, rule: Rule) -> PromQLError | None:
        self.tree(rule)
        result = self._trees[id(rule)]
        return result if isinstance(result, PromQLError) else None

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
        if self._recorders is None:
            self._recorders = {}
            for rule in self.rules():
                if not rule.is_alert:
                    self._recorders.setdefault(rule.name, []).append(rule)
        return self._recorders.get(name, [])

    def output_labels(self, rule: Rule) -> LabelSet | None:
        """The labels the rule's result carries, following recorded metrics to their
        recording expressions; None when the expression does not parse."""
        tree = self.tree(rule)
        return output_labels(tree, self.selector_labels) if tree is not None else None

    def selector_labels(self, selector: VectorSelector) -> LabelSet | None:
        """A recorded metric's labels: its recording expressions' plus their static labels."""
        name = selector.name
        recorders = self.recording_rules(name) if name else []
        if name is None or not recorders:
            return None
        if name in self._recorded_labels:  # known, or None while being worked out (a cycle)
            return self._recorded_labels[name]
        self._recorded_labels[name] = None
        sets: list[LabelSet] = []
        for rule in recorders:
            tree = self.tree(rule)
            if tree is None:
                return None
            labels = output_labels(tree, self.selector_labels)
            labels = labels.drop(frozenset(k for k, v in rule.labels.items() if not v))
            sets.append(labels.add(frozenset(k for k, v in rule.labels.items() if v)))
        self._recorded_labels[name] = merge_label_sets(sets)
        return self._recorded_labels[name]

    def base_metrics(self, name: str, depth: int = 0) -> set[str]:
        """The scraped metrics a (possibly recorded) metric comes from."""
        recorders = self.recording_rules(name)
        if not recorders or depth > 10:
            return {name}
        result: set[str] = set()
        for rule in recorders:
            tree = self.tree(rule)
            if tree is None:
                continue
            for metric in analyze(tree).metric_names:
                result |= self.base_metrics(metric, depth + 1)
        return result

    def group_interval(self, rule: Rule) -> float:
        return rule.group.interval or self.settings.evaluation_interval

    def sample_spacing(self, use: SelectorUse) -> float:
        """Worst-case time between two samples of the series a selector reads.

        A recorded series gets a sample every evaluation of its recording group, whatever its
        sources' scrape intervals; a scraped one every scrape interval (a ``job`` matcher may
        name a faster job).
        """
        recorders = self.recording_rules(use.name) if use.name is not None else []
        if recorders:
            return max(self.group_interval(rule) for rule in recorders)
        return self._scrape_interval(use)

    def selector_delay(self, use: SelectorUse, reader: Rule | None = None, depth: int = 0) -> float:
        """Worst-case age of the newest sample a selector reads, seen from rule ``reader``.

        Scraped metrics: their scrape interval (a ``job`` matcher may name a faster job).
        Recorded metrics: their sources' delay plus the recording group's interval, except
        when the recording rule runs earlier in the reader's own group (same evaluation).
        """
        job = self._job_interval(use)
        if job is not None:
            return job
        recorders = self.recording_rules(use.name) if use.name is not None else []
        if not recorders or depth > 10:
            return self._scrape_interval(use)
        worst = 0.0
        for rule in recorders:
            tree = self.tree(rule)
            uses = analyze(tree).selectors if tree is not None else []
            delay = max((self.selector_delay(u, rule, depth + 1) for u in uses), default=0.0)
            same_pass = (
                reader is not None
                and rule.group is reader.group
                and rule.group.rules.index(rule) < rule.group.rules.index(reader)
            )
            worst = max(worst, delay + (0.0 if same_pass else self.group_interval(rule)))
        return worst

    def _job_interval(self, use: SelectorUse) -> float | None:
        """The scrape interval of the job a ``job`` matcher names, when the settings know it."""
        for matcher in use.matchers:
            if matcher.name == "job":
                seconds = self.settings.job_scrape_interval(matcher.op, matcher.value)
                if seconds is not None:
                    return seconds
        return None

    def _scrape_interval(self, use: SelectorUse) -> float:
        """How often the scraped series a selector reads get a sample."""
        job = self._job_interval(use)
        if job is not None:
            return job
        if use.name is None:
            return self.settings.scrape_interval
        return self.settings.scrape_interval_for(use.name)

    def file_finding(
        self, path: str, line: int, check: str, message: str, severity: Severity = Severity.ERROR
    ) -> Finding:
        return Finding(path, line, check, severity, message)
