"""Resolve a panel's or target's datasource reference against the dashboard's variables."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from acgs_dashboards.model import Dashboard

__all__ = ["DatasourceRef", "resolve"]

# Grafana's pseudo datasources (and server-side expressions): never a Prometheus, always there.
BUILTIN_UIDS = frozenset({"-- Mixed --", "-- Grafana --", "-- Dashboard --", "grafana", "__expr__"})
BUILTIN_TYPES = frozenset({"datasource", "grafana", "__expr__", "dashboard"})
_VARIABLE_REF = re.compile(r"^\$\{?(\w+)(?::\w+)?\}?$")


@dataclass(frozen=True)
class DatasourceRef:
    """What a datasource reference says."""

    raw: Any
    kind: str  # "default", "variable", "uid", "name", "builtin", "invalid"
    uid: str | None = None
    type: str | None = None
    variable: str | None = None

    @property
    def is_prometheus(self) -> bool | None:
        """True/False when the type is known; None when it is not written down."""
        if self.kind == "builtin":
            return False
        if self.type:
            return self.type == "prometheus"
        return None


def _variable_name(text: str) -> str | None:
    match = _VARIABLE_REF.match(text.strip())
    return match.group(1) if match else None


def resolve(raw: Any, dashboard: Dashboard) -> DatasourceRef:
    if raw is None:
        return DatasourceRef(raw, "default")
    if isinstance(raw, str):
        name = _variable_name(raw)
        if name:
            return _variable(raw, name, None, dashboard)
        if raw in BUILTIN_UIDS:
            return DatasourceRef(raw, "builtin", uid=raw)
        return DatasourceRef(raw, "name", uid=raw)  # legacy: a datasource name
    if not isinstance(raw, dict):
        return DatasourceRef(raw, "invalid")
    uid, kind = raw.get("uid"), raw.get("type")
    kind = kind if isinstance(kind, str) and kind else None
    if not isinstance(uid, str) or not uid:
        return DatasourceRef(raw, "default", type=kind)
    name = _variable_name(uid)
    if name:
        return _variable(raw, name, kind, dashboard)
    if uid in BUILTIN_UIDS or kind in BUILTIN_TYPES:
        return DatasourceRef(raw, "builtin", uid=uid, type=kind)
    return DatasourceRef(raw, "uid", uid=uid, type=kind)


def _variable(raw: Any, name: str, kind: str | None, dashboard: Dashboard) -> DatasourceRef:
    variable = dashboard.variable(name)
    if variable is not None and variable.type == "datasource" and not kind:
        kind = variable.query or None
    if variable is None and not kind:
        kind = dashboard.inputs.get(name) or None  # an import input of a shared export
    return DatasourceRef(raw, "variable", type=kind, variable=name)
