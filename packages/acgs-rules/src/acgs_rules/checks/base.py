"""The one interface every check of the rule linter implements."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from acgs_promql.findings import Finding
from acgs_rules.context import LintContext


@dataclass(frozen=True)
class Check:
    """A named check; ``run`` yields findings for everything it catches in the context.

    Its documentation lives in ``docs/checks/<name with / as ->.md`` of ``package``.
    """

    name: str
    summary: str
    run: Callable[[LintContext], Iterator[Finding]]
    package: str = "acgs-rules"

    @property
    def doc_page(self) -> str:
        return f"packages/{self.package}/docs/checks/{self.name.replace('/', '-')}.md"
