"""What the linter reads: rule files, groups, rules and test files (findings are
:class:`acgs_promql.findings.Finding`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Rule:
    """An alerting (``alert``) or recording (``record``) rule as written in a file."""

    kind: str  # "alert" or "record"
    name: str
    expr: str
    line: int
    expr_line: int
    path: str
    group: Group
    for_: float | None = None  # seconds; None when absent
    for_text: str | None = None
    keep_firing_for: float | None = None
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    field_lines: dict[str, int] = field(default_factory=dict)
    disabled: frozenset[str] = frozenset()  # checks silenced by a comment

    @property
    def is_alert(self) -> bool:
        return self.kind == "alert"

    def line_of(self, key: str) -> int:
        return self.field_lines.get(key, self.line)

    def silenced(self, check: str) -> bool:
        return check in self.disabled or "all" in self.disabled


@dataclass(eq=False)
class Group:
    name: str
    path: str
    line: int
    interval: float | None = None  # seconds; None: the global evaluation interval
    rules: list[Rule] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)
    scope: str = "shard"  # or "global": where it runs when sharded (acgs_rules.scope)
    scope_line: int = 0  # the line of its `# acgs: scope=...` marker; 0 without one


@dataclass
class RuleFile:
    path: str
    kind: str  # "rules" (Prometheus rule file) or "manifest" (PrometheusRule)
    groups: list[Group] = field(default_factory=list)
    disabled: frozenset[str] = frozenset()  # checks silenced for the whole file
    raw_groups: list[Any] = field(default_factory=list)  # plain data, for promtool
    # A manifest's groups as a plain rule file whose lines are the manifest's lines, so
    # promtool's line numbers point into the manifest (None: not possible, use raw_groups).
    promtool_text: str | None = None


@dataclass
class AlertTest:
    """One ``alert_rule_test`` entry of a promtool test file."""

    alertname: str
    eval_time: str
    fires: bool
    labels: list[dict[str, str]]
    line: int


@dataclass
class TestFile:
    path: Path
    rule_files: list[str]
    alert_tests: list[AlertTest] = field(default_factory=list)
