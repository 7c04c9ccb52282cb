"""promql/unknown-metric: every metric the expression reads is known to the index.

An unknown name in a namespace the index is authoritative for (``acgs_`` catalog names,
``acgs:`` recorded names) is an error; one with an exporter's prefix is a warning (the
exporter lists may not cover every version and collector), and so is a name no source
knows (say how to declare it). Names from unknowable dashboard variables are skipped.
"""

from __future__ import annotations

from collections.abc import Iterator

from acgs_promql.checks.base import Check, Problem, Subject
from acgs_promql.findings import Severity
from acgs_promql.index import AUTHORITATIVE_PREFIXES, EXPORTER_PREFIXES
from acgs_promql.sources.base import Source
from acgs_promql.tree import VectorSelector
from acgs_promql.walker import Visit

_UNKNOWN = "not in the ACGS catalog, not recorded by any rule, not a known exporter metric"
_ALSO = {Source.CODE: "not defined in the service code", Source.LIVE: "not in the live Prometheus"}


def _unknown(subject: Subject) -> str:
    """Which sources were asked, for the message."""
    also = [text for kind, text in _ALSO.items() if kind in subject.index.asked]
    return ", ".join([_UNKNOWN, *also])


def _first_use(visit: Visit, subject: Subject, name: str) -> bool:
    """Each unknown name is reported once per expression, at its first selector."""
    for other in subject.walk.of_kind(VectorSelector):
        if isinstance(other.node, VectorSelector) and other.node.name == name:
            return other is visit
    return True


def on_node(visit: Visit, subject: Subject) -> Iterator[Problem]:
    selector = visit.node
    name = selector.name if isinstance(selector, VectorSelector) else None
    options = subject.options
    if name is None or subject.index.get(name) is not None or options.from_variable(name):
        return
    if any(p.fullmatch(name) for p in options.extra_patterns):
        return
    if not _first_use(visit, subject, name):
        return
    close = subject.index.suggestion(name)
    hint = f"; did you mean {close!r}?" if close else ""
    if name.startswith(tuple(AUTHORITATIVE_PREFIXES)):
        message = f"unknown metric {name!r}: {_unknown(subject)}{hint}"
        yield Problem(message, Severity.ERROR, visit.node.pos)
        return
    exporter = next((e for prefix, e in EXPORTER_PREFIXES.items() if name.startswith(prefix)), None)
    if exporter is not None:
        yield Problem(
            f"metric {name!r} is not in the known metric list of {exporter}{hint} (it may come "
            "from a version or collector the list does not cover)",
            Severity.WARNING,
            visit.node.pos,
        )
        return
    declare = f"; if it is real, {options.declare_hint}" if options.declare_hint else ""
    yield Problem(
        f"unknown metric {name!r}: {_unknown(subject)}{hint}{declare}",
        Severity.WARNING,
        visit.node.pos,
    )


CHECK = Check(
    "promql/unknown-metric",
    "every metric the expression reads exists",
    (VectorSelector,),
    on_node,
)
