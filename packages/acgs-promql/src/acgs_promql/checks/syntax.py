"""promql/syntax: the expression parses, and returns what its role needs.

A range vector or a string is fine for an instant query, but an alert, a recording rule
or a panel's range query fails on it every time. When the datasource type is not written
down (the text may be another query language), problems are warnings.
"""

from __future__ import annotations

from collections.abc import Iterator

from acgs_promql.checks.base import Check, Problem, Subject
from acgs_promql.expression import Role
from acgs_promql.findings import Severity
from acgs_promql.language import ValueType
from acgs_promql.tree import value_type

_TYPE_NAMES = {ValueType.MATRIX: "a range vector", ValueType.STRING: "a string"}
_FAILS = {
    Role.ALERT: "a rule must return an instant vector or a scalar, so every evaluation fails",
    Role.RECORD: "a rule must return an instant vector or a scalar, so every evaluation fails",
    Role.PANEL: "a range query must return an instant vector or a scalar, so the panel "
    "shows an error",
}


def on_expression(subject: Subject) -> Iterator[Problem]:
    expression = subject.expression
    severity = Severity.ERROR if expression.surely_promql else Severity.WARNING
    if expression.undefined_variables:
        names = ", ".join(f"${n}" for n in dict.fromkeys(expression.undefined_variables))
        yield Problem(
            f"the query uses {names}, which the dashboard does not define: Grafana sends it "
            "as written and Prometheus rejects it",
            severity,
            max(0, expression.text.find("$")),
        )
        return
    error = expression.error
    if error is not None:
        original = expression.original
        expanded = (
            f" (after expanding variables: {expression.text})"
            if original is not None and original != expression.text
            else ""
        )
        yield Problem(
            f"invalid PromQL: {error.message} (expression line {error.line}, column "
            f"{error.column}){expanded}",
            severity,
            error.position,
        )
        return
    tree = expression.tree
    kind = value_type(tree) if tree is not None else None
    if kind in _TYPE_NAMES and expression.role in _FAILS:
        yield Problem(
            f"the expression returns {_TYPE_NAMES[kind]}; {_FAILS[expression.role]} (wrap a "
            "range in a function such as rate() or max_over_time())",
            severity,
        )


CHECK = Check(
    "promql/syntax", "the expression is valid PromQL of the right type", on_expression=on_expression
)
