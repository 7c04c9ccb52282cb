"""The check interface: (expression, metric index, options) -> problems.

A check subscribes to node kinds. :meth:`Check.run` gives it every node of those kinds from
the expression's one walk (:attr:`~acgs_promql.expression.Expression.walk`, shared by all
checks), each as a :class:`~acgs_promql.walker.Visit` with its context, together with the
:class:`Subject` (the expression, the metric index, the options). A check about the
expression as a whole (``promql/syntax``) has ``on_expression`` instead. Problems carry a message,
a severity and a position in the expression's text; the linters add file, line, rule or
panel, and apply their silencing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from functools import cached_property

from acgs_promql.expression import Expression, Role
from acgs_promql.findings import Severity
from acgs_promql.index import MetricIndex, MetricInfo
from acgs_promql.live.view import LiveView
from acgs_promql.tree import Expr, VectorSelector
from acgs_promql.walker import Visit, Walk

__all__ = ["Check", "CheckOptions", "Problem", "Subject", "rate_window", "sourced"]


@dataclass(frozen=True)
class CheckOptions:
    """What the caller tells the checks beyond the expression and the index."""

    # Labels every scraped series carries, whatever its metric.
    target_labels: frozenset[str] = frozenset({"job", "instance"})
    # Regexes of metric names to accept as known.
    extra_metrics: tuple[str, ...] = ()
    # How a user makes a metric known that no source knows (ends an unknown-metric message).
    declare_hint: str = ""
    # Names and label values holding this text came from variables nobody could know.
    placeholder: str | None = None
    # The oldest Prometheus the expressions must run on.
    min_prometheus_version: str = "2.42"
    # Worst-case time between two samples of the series a selector reads (None: unknown,
    # and promql/range-window says nothing).
    sample_interval: Callable[[VectorSelector], float] | None = None
    # Where that interval came from, said in the finding ("" or None: not said).
    interval_origin: Callable[[VectorSelector], str] | None = None
    # What a live Prometheus holds (``--prometheus``); None: the live checks say nothing.
    live: LiveView | None = None

    def from_variable(self, text: str | None) -> bool:
        """True when a name or value came from a variable the caller could not know."""
        return self.placeholder is not None and text is not None and self.placeholder in text

    @cached_property
    def extra_patterns(self) -> tuple[re.Pattern[str], ...]:
        return tuple(re.compile(p) for p in self.extra_metrics)


@dataclass(frozen=True)
class Problem:
    message: str
    severity: Severity = Severity.ERROR
    position: int | None = None  # offset in the expression's text; None: the whole expression


@dataclass(frozen=True)
class Subject:
    """What a check reads besides the node it is given."""

    expression: Expression
    index: MetricIndex
    options: CheckOptions

    @property
    def walk(self) -> Walk:
        walk = self.expression.walk
        assert walk is not None, "nodes are only visited in expressions that parse"
        return walk

    @property
    def role(self) -> Role:
        return self.expression.role


OnNode = Callable[[Visit, Subject], Iterable[Problem]]
OnExpression = Callable[[Subject], Iterable[Problem]]


@dataclass(frozen=True)
class Check:
    """A named PromQL check: ``on_node`` for each node of ``kinds``, ``on_expression`` once.

    Its page is ``docs/checks/<name with / as ->.md`` in the acgs-promql package.
    """

    name: str
    summary: str
    kinds: tuple[type[Expr], ...] = ()
    on_node: OnNode | None = None
    on_expression: OnExpression | None = None

    @property
    def doc_page(self) -> str:
        return f"docs/checks/{self.name.replace('/', '-')}.md"

    def run(
        self, expression: Expression, index: MetricIndex, options: CheckOptions
    ) -> list[Problem]:
        """Every problem this check finds in ``expression``."""
        subject = Subject(expression, index, options)
        problems = list(self.on_expression(subject)) if self.on_expression is not None else []
        walk = expression.walk
        if self.on_node is not None and walk is not None:
            for kind in self.kinds:
                for visit in walk.of_kind(kind):
                    problems.extend(self.on_node(visit, subject))
        return problems


def rate_window(role: Role) -> str:
    """The window to suggest in ``rate(x[...])``: Grafana's own for dashboard queries."""
    return "..." if role.in_rule else "$__rate_interval"


def sourced(problem: Problem, info: MetricInfo | None) -> Problem:
    """``problem``, saying which source the metric's type or labels came from; when only the
    name's suffix said so (a guess), at most a warning."""
    if info is None:
        return problem
    severity = Severity.WARNING if info.guessed else problem.severity
    return replace(problem, message=f"{problem.message} [{info.origin}]", severity=severity)
