"""The one interface every check implements."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from acgs_rules.context import LintContext
from acgs_rules.model import Finding


@dataclass(frozen=True)
class Check:
    """A named check; ``run`` yields findings for everything it catches in the context.

    Its documentation lives in ``docs/checks/<name with / as ->.md``.
    """

    name: str
    summary: str
    run: Callable[[LintContext], Iterator[Finding]]

    @property
    def doc_page(self) -> str:
        return f"docs/checks/{self.name.replace('/', '-')}.md"
