"""The check interface: each check is one module with a :class:`Check`, listed in ``CHECKS``.

A check looks at one dashboard (``per_dashboard``) or at every dashboard linted together
(``across``, e.g. duplicate uids) and yields :class:`Issue` objects. The runner turns them
into :class:`Finding` with file, line and the panel's name, and drops the ones silenced with
``acgs-dashboards disable=CHECK`` (see :mod:`acgs_dashboards.model`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from acgs_dashboards.lint.findings import Severity
from acgs_dashboards.model import Dashboard, Panel, Target, Variable

__all__ = ["Check", "Context", "Issue", "LintOptions"]

DEFAULT_DATASOURCE_UIDS = frozenset({"acgs-prometheus"})


@dataclass(frozen=True)
class LintOptions:
    # Datasource uids a dashboard may name directly (the provisioned ones).
    datasource_uids: frozenset[str] = DEFAULT_DATASOURCE_UIDS
    # Scrape interval of the stack: ranges shorter than 4 of it leave rate() without data.
    scrape_interval_s: float = 15.0


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
    extras: dict[str, object] = field(default_factory=dict)


PerDashboard = Callable[[Dashboard, Context], Iterable[Issue]]
Across = Callable[[Sequence[Dashboard], Context], Iterator[tuple[Dashboard, Issue]]]


@dataclass(frozen=True)
class Check:
    name: str
    summary: str
    per_dashboard: PerDashboard | None = None
    across: Across | None = None
