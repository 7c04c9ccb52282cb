"""``datasource/reference`` and ``datasource/variable``.

Every panel and target must name a datasource that exists wherever the dashboard is
loaded: a datasource variable (``${datasource}``), or a uid provisioned on our Grafana
(``acgs-prometheus``; more with ``--datasource-uid``). A uid copied from someone's Grafana,
or a ``${DS_PROMETHEUS}`` placeholder that nothing declares, resolves to nothing and every
panel shows an error. A placeholder declared in ``__inputs`` ("Export for sharing
externally") is correct: Grafana asks for it on import. Only file provisioning leaves it
empty, so it gets one warning per dashboard.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from acgs_dashboards.datasources import resolve
from acgs_dashboards.lint.base import Check, Context, Issue
from acgs_dashboards.model import Dashboard, Panel, Target
from acgs_promql.findings import Severity


def _describe(raw: Any) -> str:
    if isinstance(raw, dict):
        return str(raw.get("uid"))
    return repr(raw)


def _import_input(raw: Any, dashboard: Dashboard) -> str | None:
    """The ``__inputs`` name ``raw`` refers to, when it is not a variable of the dashboard."""
    ref = resolve(raw, dashboard)
    if ref.kind != "variable" or ref.variable is None or dashboard.variable(ref.variable):
        return None
    return ref.variable if ref.variable in dashboard.inputs else None


def _problem(raw: Any, dashboard: Dashboard, ctx: Context) -> tuple[Severity, str] | None:
    ref = resolve(raw, dashboard)
    if ref.kind == "invalid":
        return Severity.ERROR, f"datasource {raw!r} is neither a uid object nor a name"
    if ref.kind == "variable":
        assert ref.variable is not None
        variable = dashboard.variable(ref.variable)
        if variable is None and ref.variable in dashboard.inputs:
            return None  # reported once per dashboard by references()
        if variable is None:
            hint = (
                ": it is a placeholder of 'Export for sharing externally', which file "
                "provisioning never fills; use a datasource variable"
                if ref.variable.startswith("DS_")
                else "; define it or use ${datasource}"
            )
            return Severity.ERROR, f"datasource ${{{ref.variable}}} is not a variable here{hint}"
        if variable.type not in {"datasource", "constant", "custom", "textbox"}:
            return (
                Severity.WARNING,
                f"datasource ${{{ref.variable}}} is a {variable.type} variable, not a "
                "datasource variable",
            )
        return None
    if ref.kind == "uid":
        assert ref.uid is not None
        if ref.uid not in ctx.options.datasource_uids:
            known = ", ".join(sorted(ctx.options.datasource_uids))
            # Only the Prometheus provisioning is ours to know; a Loki uid may well exist.
            severity = Severity.WARNING if ref.is_prometheus is False else Severity.ERROR
            return (
                severity,
                f"datasource uid {ref.uid!r} is not provisioned (known: {known}); use a "
                "datasource variable, or pass --datasource-uid if your Grafana has it",
            )
    if ref.kind == "name":
        return (
            Severity.WARNING,
            f"datasource given by name {raw!r} (pre-8.3 style): refer to it by uid or variable",
        )
    return None


def _references(panel: Panel) -> Iterator[tuple[Any, Target | None]]:
    if panel.datasource is not None:
        yield panel.datasource, None
    for target in panel.targets:
        if "datasource" in target.raw:
            yield target.raw["datasource"], target


def references(dashboard: Dashboard, ctx: Context) -> Iterator[Issue]:
    inputs_used: set[str] = set()
    for panel in dashboard.panels:
        reported: set[str] = set()
        for raw, target in _references(panel):
            if (name := _import_input(raw, dashboard)) is not None:
                inputs_used.add(name)
            problem = _problem(raw, dashboard, ctx)
            key = _describe(raw)
            if problem is not None and key not in reported:
                reported.add(key)
                yield Issue(problem[0], problem[1], panel=panel, target=target)
    for variable in dashboard.variables:
        if variable.type == "query" and variable.datasource is not None:
            if (name := _import_input(variable.datasource, dashboard)) is not None:
                inputs_used.add(name)
            problem = _problem(variable.datasource, dashboard, ctx)
            if problem is not None:
                yield Issue(problem[0], problem[1], variable=variable)
    if inputs_used:
        names = ", ".join(f"${{{n}}}" for n in sorted(inputs_used))
        yield Issue(
            Severity.WARNING,
            f"datasource {names} is an import input (__inputs): Grafana fills it when the "
            "dashboard is imported, but file provisioning does not; to provision it, replace "
            "it with a datasource variable",
            line=dashboard.line_of_key("__inputs"),
        )


def datasource_variable(dashboard: Dashboard, ctx: Context) -> Iterator[Issue]:
    queries = any(t.expr for p in dashboard.panels for t in p.targets)
    has_variable = (
        any(v.type == "datasource" and v.query == "prometheus" for v in dashboard.variables)
        or "prometheus" in dashboard.inputs.values()
    )  # chosen on import
    if queries and not has_variable:
        yield Issue(
            Severity.WARNING,
            "no Prometheus datasource variable: add one (type datasource, query prometheus) "
            "so the dashboard works against any Prometheus",
        )


REFERENCE = Check(
    "datasource/reference",
    "datasources resolve to a variable or a provisioned uid",
    per_dashboard=references,
)
VARIABLE = Check(
    "datasource/variable",
    "a Prometheus datasource variable exists",
    per_dashboard=datasource_variable,
)
