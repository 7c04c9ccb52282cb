"""One PromQL text to check, what it is used for, and its parse, walk and analysis (once each).

The role says what Prometheus does with the result: ``alert`` and ``record`` (rule
expressions, evaluated as instant queries every interval), ``panel`` (a dashboard range
query, drawn as a graph) and ``instant`` (an instant target or a template variable's
query). The dashboard linter also says what it knows about the text: which ``$variables``
it could not expand (the dashboard does not define them), and whether the datasource is
surely Prometheus (when it is not written down, the text may be another query language).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property

from acgs_promql.analysis import Analysis
from acgs_promql.lexer import PromQLError
from acgs_promql.parser import parse
from acgs_promql.tree import Expr
from acgs_promql.walker import Walk

__all__ = ["Expression", "Role"]


class Role(StrEnum):
    ALERT = "alert"
    RECORD = "record"
    PANEL = "panel"
    INSTANT = "instant"

    @property
    def in_rule(self) -> bool:
        return self in (Role.ALERT, Role.RECORD)


@dataclass(frozen=True, eq=False)
class Expression:
    """A PromQL text and what its caller knows about it; parsed and walked on first use."""

    text: str  # what is checked (a dashboard query with its variables expanded)
    role: Role
    original: str | None = None  # the text as written, when the caller rewrote it
    undefined_variables: tuple[str, ...] = ()  # $names the text uses that nothing defines
    surely_promql: bool = True  # False: the datasource type is not written down

    @cached_property
    def parsed(self) -> Expr | PromQLError:
        try:
            return parse(self.text)
        except PromQLError as error:
            return error
        except RecursionError:
            return PromQLError("expression nested too deeply", self.text, 0)

    @property
    def tree(self) -> Expr | None:
        """The syntax tree, or None when the text does not parse."""
        return None if isinstance(self.parsed, PromQLError) else self.parsed

    @property
    def error(self) -> PromQLError | None:
        return self.parsed if isinstance(self.parsed, PromQLError) else None

    @cached_property
    def walk(self) -> Walk | None:
        tree = self.tree
        return Walk(tree) if tree is not None else None

    @cached_property
    def analysis(self) -> Analysis | None:
        return Analysis.of(self.walk) if self.walk is not None else None
