"""Where a rule group runs when Prometheus is sharded: its scope, written in the rule file.

With ``prometheus_shards: N > 1`` every shard scrapes only part of the targets (hashmod on
the target address). A group is then either

- ``shard`` (the default): per-target rules, evaluated by every shard's Prometheus on its own
  targets (``up == 0``, ratios that keep ``instance``); or
- ``global``: rules that need the whole fleet (SLO ratios across a service's instances,
  anything aggregating over instances, ``absent()`` of a job), evaluated by ``vmalert``
  against VictoriaMetrics, which holds every shard's series.

A group is global when the comment block directly above its ``- name:`` line (or that line)
holds ``# acgs: scope=global``; ``# acgs: scope=shard`` says the default out loud. With one
shard every group runs on Prometheus, whatever its scope. ``acgs-rules lint`` checks that a
shard group needs no other shard's targets (check ``group/scope``); ``acgs-deploy`` splits
the rule files by scope (:func:`split_by_scope`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

__all__ = [
    "GLOBAL",
    "SCOPES",
    "SHARD",
    "ScopeError",
    "ScopeMark",
    "group_scope",
    "split_by_scope",
]

SHARD = "shard"
GLOBAL = "global"
SCOPES = (SHARD, GLOBAL)
_MARKER = re.compile(r"#\s*acgs:\s*scope\s*=\s*([\w-]*)")
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class ScopeError(ValueError):
    """A scope marker naming no known scope, on 1-based ``line``."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class ScopeMark:
    scope: str  # SHARD or GLOBAL
    line: int  # 1-based line of the marker; 0 when the group has none (the default)


def group_scope(lines: Sequence[str], group_line: int) -> ScopeMark:
    """The scope of the group whose ``- name:`` entry starts on 1-based ``group_line``."""
    first = group_line
    while first > 1 and lines[first - 2].strip().startswith("#"):
        first -= 1
    for number in range(first, group_line + 1):
        match = _MARKER.search(lines[number - 1])
        if match is None:
            continue
        if match.group(1) not in SCOPES:
            raise ScopeError(
                f"unknown scope {match.group(1)!r} in the marker; "
                "write '# acgs: scope=global' or '# acgs: scope=shard'",
                number,
            )
        return ScopeMark(match.group(1), number)
    return ScopeMark(SHARD, 0)


def split_by_scope(text: str) -> dict[str, list[Any]]:
    """A rule file's groups (plain data) by scope: ``{"shard": [...], "global": [...]}``.

    For files promtool has accepted; raises :class:`ScopeError` for a bad marker and
    ``yaml.YAMLError`` for text that is not YAML.
    """
    lines = text.splitlines()
    result: dict[str, list[Any]] = {scope: [] for scope in SCOPES}
    document = yaml.compose(text, Loader=_LOADER)
    if not isinstance(document, yaml.MappingNode):
        return result
    for key, value in document.value:
        if key.value != "groups" or not isinstance(value, yaml.SequenceNode):
            continue
        for node in value.value:
            mark = group_scope(lines, node.start_mark.line + 1)
            result[mark.scope].append(_LOADER("").construct_document(node))
    return result
