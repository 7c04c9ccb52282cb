"""Metric definitions in Python service code (``--source DIR``), read without running it.

Every ``*.py`` under the directories that imports ``prometheus_client`` or ``acgs_metrics``
is parsed (:mod:`ast`) and these constructors are read, with their name, type and label
names:

- prometheus_client's ``Counter``, ``Gauge``, ``Histogram``, ``Summary``, ``Info`` and
  ``Enum`` (``namespace``/``subsystem``/``unit`` joined into the name as prometheus_client
  does: a counter's ``_total`` is its sample's suffix, a unit is appended unless the name
  ends in it; an ``Enum`` has a label named after itself);
- its custom-collector families ``CounterMetricFamily``, ``GaugeMetricFamily``,
  ``HistogramMetricFamily``, ``SummaryMetricFamily``, ``InfoMetricFamily``;
- acgs_metrics' ``MetricSpec(name=..., type=MetricType..., labels=(LabelSpec(...), ...))``.

Names and label lists may be literals, f-strings, ``+`` of those, or names assigned one of
those in the same module (``NAMESPACE = "shop"``); a constructor whose name cannot be worked
out that way is skipped. A module that does not parse is a ``source/load`` warning; nothing
here runs the code or imports it.
"""

from __future__ import annotations

import ast
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from acgs_promql.findings import Finding, Severity
from acgs_promql.limits import DEFAULT_MAX_FILE_SIZE, too_large
from acgs_promql.sources.base import MetricFamily, Source

__all__ = ["SOURCE_LOAD", "CodeSource", "read_code"]

SOURCE_LOAD = "source/load"  # check name of a --source file that could not be read
_MARKERS = ("prometheus_client", "acgs_metrics")  # a module without either defines nothing
_SKIPPED_DIRS = frozenset({".git", ".venv", "venv", "node_modules", "site-packages", "__pycache__"})
# prometheus_client class -> metric type (their constructors share _CLIENT_ARGS)
_CLIENT = {
    "Counter": "counter",
    "Gauge": "gauge",
    "Histogram": "histogram",
    "Summary": "summary",
    "Info": "info",
    "Enum": "stateset",
}
_CLIENT_ARGS = ("name", "documentation", "labelnames", "namespace", "subsystem", "unit")
_FAMILIES = {
    "CounterMetricFamily": "counter",
    "GaugeMetricFamily": "gauge",
    "HistogramMetricFamily": "histogram",
    "SummaryMetricFamily": "summary",
    "InfoMetricFamily": "info",
}
_TYPES = {"COUNTER": "counter", "GAUGE": "gauge", "HISTOGRAM": "histogram"}


@dataclass(frozen=True)
class CodeSource:
    """The metric families service code defines (a :class:`MetricSource` of kind CODE)."""

    found: tuple[MetricFamily, ...]
    findings: tuple[Finding, ...]  # modules that could not be read
    files: int  # modules read

    @property
    def kind(self) -> Source:
        return Source.CODE

    def families(self, wanted: Collection[str]) -> Iterable[MetricFamily]:
        return self.found


def _python_files(paths: Iterable[Path], findings: list[Finding]) -> Iterator[Path]:
    for path in paths:
        if path.is_file():
            yield path
        elif path.is_dir():
            for file in sorted(path.rglob("*.py")):
                parts = set(file.relative_to(path).parts[:-1])
                if not parts & _SKIPPED_DIRS and file.is_file():
                    yield file
        else:
            findings.append(
                Finding(str(path), 0, SOURCE_LOAD, Severity.ERROR, "no such file or directory")
            )


def read_code(paths: Iterable[Path], max_file_size: int = DEFAULT_MAX_FILE_SIZE) -> CodeSource:
    """The metric definitions in the Python files under ``paths``."""
    findings: list[Finding] = []
    merged: dict[str, MetricFamily] = {}
    files = 0
    for file in _python_files(paths, findings):
        refused = too_large(file, max_file_size, "--max-file-size")
        if refused is not None:
            findings.append(Finding(str(file), 0, SOURCE_LOAD, Severity.WARNING, refused))
            continue
        tree = _parse(file, findings)
        if tree is None:
            continue
        files += 1
        for family in _Module(tree, _shown(file)).families():
            _merge(merged, family)
    return CodeSource(tuple(merged.values()), tuple(findings), files)


def _shown(file: Path) -> str:
    """The path as findings show it: relative to the current directory when under it."""
    try:
        return str(file.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(file)


def _merge(merged: dict[str, MetricFamily], family: MetricFamily) -> None:
    """The same metric defined in several places: its series carry any of their labels."""
    known = merged.get(family.name)
    if known is None or known.type != family.type:
        merged.setdefault(family.name, family)
        return
    labels = None if known.labels is None or family.labels is None else known.labels | family.labels
    merged[family.name] = MetricFamily(known.name, known.type, labels, known.where)


def _parse(file: Path, findings: list[Finding]) -> ast.Module | None:
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        findings.append(Finding(str(file), 0, SOURCE_LOAD, Severity.WARNING, str(error)))
        return None
    if not any(marker in text for marker in _MARKERS):
        return None
    try:
        return ast.parse(text, filename=str(file))
    except SyntaxError as error:
        message = f"not Python this linter can read ({error.msg}); its metrics stay unknown"
        findings.append(
            Finding(str(file), error.lineno or 0, SOURCE_LOAD, Severity.WARNING, message)
        )
    except (ValueError, RecursionError, MemoryError) as error:
        message = f"cannot parse ({type(error).__name__}); its metrics stay unknown"
        findings.append(Finding(str(file), 0, SOURCE_LOAD, Severity.WARNING, message))
    return None


class _Module:
    """One parsed module: its imports, its simple assignments, its constructor calls."""

    def __init__(self, tree: ast.Module, path: str) -> None:
        self.tree = tree
        self.path = path
        self.imports: dict[str, str] = {}  # local name -> dotted origin
        self.assigned: dict[str, ast.expr] = {}  # NAME = <expr>, anywhere (last one wins)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    local = alias.asname or alias.name.split(".")[0]
                    self.imports[local] = alias.name if alias.asname else local
            elif isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    self.imports[alias.asname or alias.name] = f"{node.module}.{alias.name}"
            elif isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
                if isinstance(target, ast.Name):
                    self.assigned[target.id] = node.value
            elif (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and node.value is not None
            ):
                self.assigned[node.target.id] = node.value

    def families(self) -> Iterator[MetricFamily]:
        for node in ast.walk(self.tree):
            if not isinstance(node, ast.Call):
                continue
            origin = self._origin(node.func)
            if origin is None:
                continue
            module, _, name = origin.rpartition(".")
            family: MetricFamily | None = None
            if module.startswith("prometheus_client") and name in _CLIENT:
                family = self._client(node, _CLIENT[name])
            elif module.startswith("prometheus_client") and name in _FAMILIES:
                family = self._custom(node, _FAMILIES[name])
            elif module.startswith("acgs_metrics") and name == "MetricSpec":
                family = self._spec(node)
            if family is not None:
                yield family

    def _origin(self, func: ast.expr, depth: int = 0) -> str | None:
        """The dotted name a call's function comes from (``prometheus_client.Counter``)."""
        if isinstance(func, ast.Name):
            return self.imports.get(func.id)
        if isinstance(func, ast.Attribute) and depth < 10:
            base = self._origin(func.value, depth + 1)
            return f"{base}.{func.attr}" if base is not None else None
        return None

    def _arguments(self, call: ast.Call, order: tuple[str, ...]) -> dict[str, ast.expr]:
        given = dict(zip(order, call.args, strict=False))
        given.update({k.arg: k.value for k in call.keywords if k.arg is not None})
        return given

    def _where(self, call: ast.Call) -> str:
        return f"{self.path}:{call.lineno}"

    def _client(self, call: ast.Call, kind: str) -> MetricFamily | None:
        args = self._arguments(call, _CLIENT_ARGS)
        name = self._text(args.get("name"))
        labels = self._names(args.get("labelnames")) if "labelnames" in args else frozenset()
        if not name:
            return None
        parts = [self._text(args[key]) if key in args else "" for key in ("namespace", "subsystem")]
        if None in parts:
            return None
        full = "_".join([*(p for p in parts if p), name])
        unit = self._text(args.get("unit")) if "unit" in args else ""
        exposed = _named(full, kind, unit)
        if exposed is None:
            return None
        if kind == "stateset" and labels is not None:
            labels = labels | {exposed}
        if kind == "info":
            labels = None  # the label names are the keys of the dict .info() is given

        return MetricFamily(exposed, kind, labels, self._where(call))

    def _custom(self, call: ast.Call, kind: str) -> MetricFamily | None:
        args = self._arguments(call, ("name", "documentation"))
        name = self._text(args.get("name"))
        labels = self._names(args.get("labels")) if "labels" in args else frozenset()
        if kind == "info":
            labels = None  # the value dict's keys are labels too
        unit = self._text(args.get("unit")) if "unit" in args else ""
        full = _named(name, kind, unit) if name else None
        return MetricFamily(full, kind, labels, self._where(call)) if full else None

    def _spec(self, call: ast.Call) -> MetricFamily | None:
        args = self._arguments(call, ())
        name = self._text(args.get("name"))
        kind_node = args.get("type")
        kind = None
        if isinstance(kind_node, ast.Attribute):
            kind = _TYPES.get(kind_node.attr)
        elif isinstance(kind_node, ast.Constant) and isinstance(kind_node.value, str):
            kind = kind_node.value.lower()
        if not name or kind is None:
            return None
        return MetricFamily(name, kind, self._label_specs(args.get("labels")), self._where(call))

    def _label_specs(self, node: ast.expr | None) -> frozenset[str] | None:
        """Names of ``LabelSpec(name=...)`` items (given inline or by a module name)."""
        node = self._resolved(node)
        if node is None:
            return frozenset()
        if not isinstance(node, ast.Tuple | ast.List):
            return None
        names: set[str] = set()
        for item in node.elts:
            spec = self._resolved(item)
            if not isinstance(spec, ast.Call):
                return None
            label = self._text(self._arguments(spec, ("name",)).get("name"))
            if label is None:
                return None
            names.add(label)
        return frozenset(names)

    def _resolved(self, node: ast.expr | None, depth: int = 0) -> ast.expr | None:
        while isinstance(node, ast.Name) and node.id in self.assigned and depth < 10:
            node, depth = self.assigned[node.id], depth + 1
        return node

    def _text(self, node: ast.expr | None, depth: int = 0) -> str | None:
        """A string the expression surely has, or None."""
        node = self._resolved(node)
        if node is None or depth > 20:
            return None
        if isinstance(node, ast.Constant):
            return node.value if isinstance(node.value, str) else None
        if isinstance(node, ast.JoinedStr):
            parts = [
                self._text(v.value if isinstance(v, ast.FormattedValue) else v, depth + 1)
                for v in node.values
            ]
            return None if None in parts else "".join(p for p in parts if p is not None)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, right = self._text(node.left, depth + 1), self._text(node.right, depth + 1)
            return left + right if left is not None and right is not None else None
        return None

    def _names(self, node: ast.expr | None) -> frozenset[str] | None:
        """Label names of a list/tuple of strings (None: not worked out)."""
        node = self._resolved(node)
        if isinstance(node, ast.Constant) and node.value is None:
            return frozenset()
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return frozenset({node.value})
        if not isinstance(node, ast.Tuple | ast.List):
            return None
        names = [self._text(item) for item in node.elts]
        return None if None in names else frozenset(n for n in names if n is not None)


def _named(name: str, kind: str, unit: str | None) -> str | None:
    """The family name prometheus_client exposes (a counter's with ``_total``)."""
    if unit is None:
        return None
    if kind == "counter" and name.endswith("_total"):
        name = name.removesuffix("_total")
    if unit and not name.endswith("_" + unit):
        name += "_" + unit
    return name + "_total" if kind == "counter" else name
