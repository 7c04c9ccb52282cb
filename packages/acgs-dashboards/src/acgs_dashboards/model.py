"""Grafana dashboard JSON as the linter and the query-load runner see it.

:func:`load_dashboard` reads a file (a bare dashboard, or the API's ``{"dashboard": ...}``
wrapper) and remembers the line of every JSON object, so findings point at the panel or
target in the file. :class:`Dashboard` flattens the panels: rows, collapsed rows' nested
panels and library panels all become :class:`Panel` with their targets.
"""

from __future__ import annotations

import json
import json.decoder
import json.scanner
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from acgs_promql.limits import gc_paused

__all__ = [
    "DISABLE_PATTERN",
    "Dashboard",
    "DashboardLoadError",
    "FieldProblem",
    "Panel",
    "Target",
    "Variable",
    "disabled_checks",
    "load_dashboard",
    "parse_dashboard",
]

# Silencing, as in the rule linter: ``acgs-dashboards disable=CHECK[,CHECK...]`` in a
# dashboard or panel description, or as a PromQL comment (``# acgs-dashboards disable=...``)
# in a query. ``all`` silences every check. Grafana keeps descriptions and query text as
# written, so the silence survives a save from the UI (unknown JSON fields would not).
DISABLE_PATTERN = re.compile(r"acgs-dashboards\s+disable\s*=\s*([\w/,\s-]+)")


def disabled_checks(text: object) -> frozenset[str]:
    if not isinstance(text, str) or not text:
        return frozenset()
    names: set[str] = set()
    for match in DISABLE_PATTERN.finditer(text):
        names.update(n.strip() for n in re.split(r"[,\s]+", match.group(1)) if n.strip())
    return frozenset(names)


class DashboardLoadError(Exception):
    """The file is not JSON or not a Grafana dashboard; ``line`` says where."""

    def __init__(self, message: str, line: int = 1) -> None:
        super().__init__(message)
        self.line = line


class _LineDict(dict[str, Any]):
    """A JSON object that knows the line its ``{`` is on, and where its text is."""

    __slots__ = ("line", "span")  # no __dict__ per JSON object: a big dashboard has millions

    def __init__(self, obj: dict[str, Any], line: int, span: tuple[str, int, int]) -> None:
        super().__init__(obj)
        self.line = line
        self.span = span

    def line_of_key(self, key: str) -> int:
        """The line of ``"key":`` in this object (the first one, nested objects included)."""
        text, start, end = self.span
        match = re.compile(rf'"{re.escape(key)}"\s*:').search(text, start, end)
        return self.line + text.count("\n", start, match.start()) if match else self.line


def _line_tracking_loads(text: str) -> Any:
    decoder = json.JSONDecoder()
    plain_object: Any = getattr(json.decoder, "JSONObject")  # noqa: B009 (untyped stdlib)
    # Objects are met in text order: count the newlines since the previous one (a table of
    # every newline's offset took 1.4 s and hundreds of MB for a 170 MB dashboard).
    seen = [0, 1]  # offset counted up to, its line

    def parse_object(s_and_end: tuple[str, int], *args: Any, **kwargs: Any) -> Any:
        start = s_and_end[1] - 1
        seen[1] += text.count("\n", seen[0], start)
        seen[0] = start
        line = seen[1]
        obj, end = plain_object(s_and_end, *args, **kwargs)
        return _LineDict(obj, line, (s_and_end[0], start, end)), end

    # The C scanner ignores parse_object; the Python one calls it for every object.
    setattr(decoder, "parse_object", parse_object)  # noqa: B010 (attribute is untyped)
    decoder.scan_once = json.scanner.py_make_scanner(decoder)  # type: ignore[attr-defined]
    return decoder.decode(text)


def line_of(node: object, default: int = 1) -> int:
    return node.line if isinstance(node, _LineDict) else default


def as_object(value: object) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one (its type is reported elsewhere)."""
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class FieldProblem:
    """A field of the wrong JSON type. The linter reports it (``dashboard/schema``) and
    every reader treats the field as absent, so one bad field cannot crash a check."""

    line: int
    field: str  # e.g. "time", or "fieldConfig.defaults" of panel 'Latency'
    message: str


_JSON_KINDS: dict[type, str] = {dict: "an object", list: "a list", str: "a string"}


def _json_kind(value: object) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return f"a number ({value!r})"
    for kind, name in _JSON_KINDS.items():
        if isinstance(value, kind):
            return name
    return "null"


def _typed(
    container: dict[str, Any],
    key: str,
    kind: type,
    problems: list[FieldProblem],
    parent: str = "",
    owner: str = "",
) -> Any:
    """``container[key]`` if absent or of ``kind``; otherwise None, and a problem noted.

    ``parent``: the JSON path of ``container`` ("time", "fieldConfig"); ``owner``: whose
    field it is when not the dashboard's ("panel 'Latency'").
    """
    value = container.get(key)
    if value is None or isinstance(value, kind):
        return value
    line = container.line_of_key(key) if isinstance(container, _LineDict) else 1
    name = f"{parent}.{key}" if parent else key
    prefix = f"{owner}: " if owner else ""
    problems.append(
        FieldProblem(
            line,
            name,
            f"{prefix}field {name!r} must be {_JSON_KINDS[kind]}, not {_json_kind(value)}; "
            "fix or remove it (Grafana cannot read it either)",
        )
    )
    return None


@dataclass
class Target:
    ref_id: str
    expr: str | None  # None: not a PromQL target (another datasource, or no expr field)
    datasource: Any
    line: int
    hidden: bool
    instant: bool
    raw: dict[str, Any]

    @property
    def disabled(self) -> frozenset[str]:
        return disabled_checks(self.expr)


@dataclass
class Panel:
    id: Any
    title: str
    type: str
    line: int
    raw: dict[str, Any]
    targets: list[Target]
    datasource: Any
    row: str | None  # title of the row the panel sits under
    collapsed: bool  # inside a collapsed row: Grafana does not query it on load
    repeat: str | None  # variable the panel (or its row) repeats over

    @property
    def disabled(self) -> frozenset[str]:
        return disabled_checks(self.raw.get("description"))

    @property
    def unit(self) -> str | None:
        defaults = as_object(as_object(self.raw.get("fieldConfig")).get("defaults"))
        unit = defaults.get("unit")
        return unit if isinstance(unit, str) and unit else None

    @property
    def library(self) -> bool:
        return "libraryPanel" in self.raw

    @property
    def overrides(self) -> list[dict[str, Any]]:
        overrides = as_object(self.raw.get("fieldConfig")).get("overrides")
        return [o for o in overrides if isinstance(o, dict)] if isinstance(overrides, list) else []

    @property
    def width(self) -> int | None:
        """Grid columns (of 24) the panel spans, when ``gridPos.w`` says."""
        width = as_object(self.raw.get("gridPos")).get("w")
        return width if isinstance(width, int) and not isinstance(width, bool) else None


@dataclass
class Variable:
    name: str
    type: str
    line: int
    raw: dict[str, Any]

    @property
    def query(self) -> str:
        query = self.raw.get("query")
        if isinstance(query, dict):
            query = query.get("query", "")
        return query if isinstance(query, str) else ""

    @property
    def datasource(self) -> Any:
        return self.raw.get("datasource")

    @property
    def include_all(self) -> bool:
        return bool(self.raw.get("includeAll"))

    @property
    def all_value(self) -> str | None:
        value = self.raw.get("allValue")
        return value if isinstance(value, str) and value else None

    @property
    def current_values(self) -> list[str]:
        current = self.raw.get("current") or {}
        value = current.get("value") if isinstance(current, dict) else None
        if isinstance(value, str):
            return [value]
        if isinstance(value, list):
            return [v for v in value if isinstance(v, str)]
        return []

    @property
    def options(self) -> list[str]:
        """Values listed in the JSON (custom variables, saved options), "All" excluded."""
        values: list[str] = []
        options = self.raw.get("options")
        for option in options if isinstance(options, list) else []:
            value = option.get("value") if isinstance(option, dict) else None
            if isinstance(value, str) and value != "$__all":
                values.append(value)
        if not values and self.type in {"custom", "interval"}:
            values = [v.strip() for v in re.split(r"(?<!\\),", self.query) if v.strip()]
            values = [v.split(" : ", 1)[-1] for v in values]
        return values


@dataclass
class Dashboard:
    path: str
    raw: dict[str, Any]
    line: int
    panels: list[Panel] = field(default_factory=list)
    rows: list[Panel] = field(default_factory=list)
    variables: list[Variable] = field(default_factory=list)
    problems: list[FieldProblem] = field(default_factory=list)

    @property
    def uid(self) -> str | None:
        uid = self.raw.get("uid")
        return uid if isinstance(uid, str) and uid else None

    @property
    def title(self) -> str:
        title = self.raw.get("title")
        return title if isinstance(title, str) else ""

    @property
    def disabled(self) -> frozenset[str]:
        return disabled_checks(self.raw.get("description"))

    @property
    def inputs(self) -> dict[str, str]:
        """Datasource inputs of an "Export for sharing externally" (``__inputs``): name to
        plugin id. Grafana asks for them on import and fills ``${NAME}`` in."""
        declared: dict[str, str] = {}
        inputs = self.raw.get("__inputs")
        for item in inputs if isinstance(inputs, list) else []:
            if isinstance(item, dict) and item.get("type") == "datasource":
                name, plugin = item.get("name"), item.get("pluginId")
                if isinstance(name, str) and name:
                    declared[name] = plugin if isinstance(plugin, str) else ""
        return declared

    def line_of_key(self, key: str) -> int:
        """The line of the top-level field ``key`` (the dashboard's line when unknown)."""
        return self.raw.line_of_key(key) if isinstance(self.raw, _LineDict) else self.line

    def variable(self, name: str) -> Variable | None:
        for variable in self.variables:
            if variable.name == name:
                return variable
        return None

    def time_range(self) -> tuple[str, str]:
        """``time.from`` and ``time.to``; Grafana's defaults where they are missing or wrong
        (``problems`` names the wrong ones)."""
        time = as_object(self.raw.get("time"))
        start, end = time.get("from"), time.get("to")
        return (
            start if isinstance(start, str) and start else "now-6h",
            end if isinstance(end, str) and end else "now",
        )


def _targets(panel: dict[str, Any], where: str, problems: list[FieldProblem]) -> list[Target]:
    targets = []
    for index, raw in enumerate(_typed(panel, "targets", list, problems, owner=where) or []):
        if not isinstance(raw, dict):
            continue
        expr = raw.get("expr")
        targets.append(
            Target(
                ref_id=str(raw.get("refId") or chr(ord("A") + index % 26)),
                expr=expr if isinstance(expr, str) else None,
                datasource=raw.get("datasource", panel.get("datasource")),
                line=raw.line_of_key("expr") if isinstance(raw, _LineDict) else line_of(panel),
                hidden=bool(raw.get("hide")),
                instant=bool(raw.get("instant")) and not raw.get("range"),
                raw=raw,
            )
        )
    return targets


def _panel(
    raw: dict[str, Any],
    row: str | None,
    collapsed: bool,
    repeat: str | None,
    problems: list[FieldProblem],
) -> Panel:
    title = raw.get("title")
    title = title if isinstance(title, str) else ""
    where = f"panel {title or raw.get('id')!r}"
    field_config = _typed(raw, "fieldConfig", dict, problems, owner=where) or {}
    _typed(field_config, "defaults", dict, problems, "fieldConfig", where)
    _typed(field_config, "overrides", list, problems, "fieldConfig", where)
    _typed(raw, "gridPos", dict, problems, owner=where)
    own_repeat = _typed(raw, "repeat", str, problems, owner=where)
    return Panel(
        id=raw.get("id"),
        title=title,
        type=str(raw.get("type") or ""),
        line=line_of(raw),
        raw=raw,
        targets=_targets(raw, where, problems),
        datasource=raw.get("datasource"),
        row=row,
        collapsed=collapsed,
        repeat=own_repeat or repeat or None,
    )


def _walk_panels(
    panels: list[Any],
    row: str | None,
    collapsed: bool,
    repeat: str | None,
    problems: list[FieldProblem],
) -> Iterator[tuple[bool, Panel]]:
    """(is_row, panel) in layout order; a row's own ``panels`` hold it while collapsed."""
    current_row, current_collapsed, current_repeat = row, collapsed, repeat
    for raw in panels:
        if not isinstance(raw, dict):
            continue
        if raw.get("type") == "row":
            row_panel = _panel(raw, None, False, None, problems)
            yield True, row_panel
            current_row = row_panel.title
            current_collapsed = bool(raw.get("collapsed"))
            current_repeat = row_panel.repeat
            nested = _typed(raw, "panels", list, problems, owner=f"row {row_panel.title!r}") or []
            yield from _walk_panels(nested, current_row, True, current_repeat, problems)
            continue
        yield False, _panel(raw, current_row, current_collapsed, current_repeat, problems)


def parse_dashboard(document: Any, path: str = "<dashboard>") -> Dashboard:
    """A :class:`Dashboard` from decoded JSON (bare, or wrapped as ``{"dashboard": ...}``)."""
    if isinstance(document, dict) and isinstance(document.get("dashboard"), dict):
        document = document["dashboard"]
    if not isinstance(document, dict):
        raise DashboardLoadError("not a Grafana dashboard: the top level is not a JSON object")
    if "panels" not in document and "rows" not in document and "title" not in document:
        raise DashboardLoadError(
            "not a Grafana dashboard: no 'panels', 'rows' or 'title' at the top level",
            line_of(document),
        )
    dashboard = Dashboard(path=path, raw=document, line=line_of(document))
    problems = dashboard.problems
    time = _typed(document, "time", dict, problems) or {}
    _typed(time, "from", str, problems, "time")
    _typed(time, "to", str, problems, "time")
    panels: list[Any] = list(_typed(document, "panels", list, problems) or [])
    # Schema < 16 kept panels in "rows"; walk them too so old dashboards are still linted.
    for index, legacy_row in enumerate(_typed(document, "rows", list, problems) or []):
        if isinstance(legacy_row, dict):
            panels.extend(_typed(legacy_row, "panels", list, problems, f"rows[{index}]") or [])
    for is_row, panel in _walk_panels(panels, None, False, None, problems):
        (dashboard.rows if is_row else dashboard.panels).append(panel)
    templating = _typed(document, "templating", dict, problems) or {}
    for raw in _typed(templating, "list", list, problems, "templating") or []:
        if isinstance(raw, dict) and isinstance(raw.get("name"), str):
            dashboard.variables.append(
                Variable(raw["name"], str(raw.get("type") or ""), line_of(raw), raw)
            )
    return dashboard


def load_dashboard(path: Path) -> Dashboard:
    """Read and parse a dashboard file; :class:`DashboardLoadError` says what is wrong."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # a BOM is not an error
    except (OSError, UnicodeDecodeError) as error:
        raise DashboardLoadError(f"cannot read the file: {error}") from error
    with gc_paused():
        try:
            document = _line_tracking_loads(text)
        except json.JSONDecodeError as error:
            raise DashboardLoadError(f"invalid JSON: {error.msg}", error.lineno) from error
        except RecursionError as error:
            raise DashboardLoadError("invalid JSON: nested too deeply") from error
        return parse_dashboard(document, str(path))
