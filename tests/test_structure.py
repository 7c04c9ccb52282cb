"""The workspace's shape, as DESIGN.md states it, checked on every run.

- no import cycles between modules (imports inside functions count; ``TYPE_CHECKING`` ones
  do not, they never run);
- acgs-metrics imports nothing of ours; product packages never import the test harness;
- no package imports another package's private (``_name``) modules or names;
- every import of another workspace package is declared in the importer's pyproject;
- no source file over 600 lines, no function over 80 (the dashboard definitions aside:
  they are declarative data).
"""

from __future__ import annotations

import ast
import re
import subprocess
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from acgs_testkit.paths import REPO_ROOT

ROOT = REPO_ROOT
MAX_FILE_LINES = 600
MAX_FUNCTION_LINES = 80
DECLARATIVE = ("dashboards/",)  # dashboard definitions: data written as builder calls
HARNESS = "acgs_testkit"


@dataclass
class Member:
    """One workspace package: its distribution name, import name and declared dependencies."""

    name: str
    path: Path
    module: str
    declared: set[str] = field(default_factory=set)


def _normalise(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def members() -> list[Member]:
    workspace = tomllib.loads((ROOT / "pyproject.toml").read_text())
    found: list[Member] = []
    for pattern in workspace["tool"]["uv"]["workspace"]["members"]:
        for path in sorted(ROOT.glob(pattern)):
            project = tomllib.loads((path / "pyproject.toml").read_text())["project"]
            requirements = list(project.get("dependencies", []))
            for extra in project.get("optional-dependencies", {}).values():
                requirements += extra
            (package,) = [p for p in (path / "src").iterdir() if p.is_dir() and "." not in p.name]
            found.append(
                Member(project["name"], path, package.name, {_normalise(r) for r in requirements})
            )
    return found


MEMBERS = members()
BY_MODULE = {member.module: member for member in MEMBERS}


def tracked_python_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [ROOT / name for name in listed if (ROOT / name).is_file()]


def module_name(path: Path, member: Member) -> str:
    parts = list(path.relative_to(member.path / "src").with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@dataclass(frozen=True)
class Import:
    line: int
    module: str  # the module imported from
    names: tuple[str, ...]  # names taken from it (empty for `import x.y`)


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(tree: ast.Module, current: str, is_package: bool) -> Iterator[Import]:
    """Every import that runs, relative ones resolved against ``current``."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _type_checking_only(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(node.lineno, alias.name, ())
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = current.split(".")
                keep = len(anchor) - node.level + (1 if is_package else 0)
                base = ".".join([*anchor[:keep], *([base] if base else [])])
            yield Import(node.lineno, base, tuple(a.name for a in node.names))
        stack.extend(ast.iter_child_nodes(node))


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    member: Member
    imports: tuple[Import, ...]


def product_modules() -> dict[str, Module]:
    modules: dict[str, Module] = {}
    for member in MEMBERS:
        for path in sorted((member.path / "src").rglob("*.py")):
            name = module_name(path, member)
            tree = ast.parse(path.read_text(), str(path))
            found = tuple(imports(tree, name, path.name == "__init__.py"))
            modules[name] = Module(name, path, member, found)
    return modules


MODULES = product_modules()


def _targets(module: Module) -> Iterator[tuple[Import, str]]:
    """The workspace modules an import loads: ``from a.b import c`` is ``a.b.c`` when that
    is a module, else ``a.b``."""
    for item in module.imports:
        if item.module.split(".")[0] not in BY_MODULE:
            continue
        submodules = [f"{item.module}.{n}" for n in item.names if f"{item.module}.{n}" in MODULES]
        yield from ((item, target) for target in submodules or [item.module])


def test_no_import_cycles() -> None:
    graph = {name: {t for _, t in _targets(m) if t in MODULES} for name, m in MODULES.items()}
    cycles: list[list[str]] = []
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: list[str] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        on_stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = on_stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1 or node in graph[node]:
                cycles.append(sorted(component))

    for name in sorted(graph):
        if name not in index:
            visit(name)
    assert not cycles, f"import cycles: {cycles}"


def test_every_cross_package_import_is_declared() -> None:
    problems = []
    for module in MODULES.values():
        for item, _ in _targets(module):
            owner = BY_MODULE[item.module.split(".")[0]]
            if owner is module.member or owner.name in module.member.declared:
                continue
            problems.append(
                f"{module.path.relative_to(ROOT)}:{item.line}: imports {item.module} "
                f"but {module.member.name} does not declare {owner.name}"
            )
    assert not problems, "\n".join(problems)


def test_the_service_library_imports_nothing_of_ours_and_products_no_harness() -> None:
    problems = []
    for module in MODULES.values():
        for item, _ in _targets(module):
            top = item.module.split(".")[0]
            if module.member.module == "acgs_metrics" and top != "acgs_metrics":
                problems.append(f"{module.path.relative_to(ROOT)}:{item.line}: {item.module}")
            if top == HARNESS and module.member.module != HARNESS:
                problems.append(f"{module.path.relative_to(ROOT)}:{item.line}: {item.module}")
    for member in MEMBERS:
        if member.module != HARNESS:
            assert HARNESS.replace("_", "-") not in member.declared, member.name
    assert not problems, "\n".join(problems)


def _private(dotted: str) -> bool:
    return any(part.startswith("_") and not part.startswith("__") for part in dotted.split("."))


def test_no_package_imports_another_packages_private_parts() -> None:
    problems = []
    for path in tracked_python_files():
        owner = next((m for m in MEMBERS if path.is_relative_to(m.path)), None)
        tree = ast.parse(path.read_text(), str(path))
        for item in imports(tree, "", False):
            top = item.module.split(".")[0]
            if top not in BY_MODULE or (owner is not None and owner.module == top):
                continue
            hidden = [n for n in item.names if _private(n)]
            if _private(item.module) or hidden:
                what = ", ".join(hidden) or item.module
                problems.append(f"{path.relative_to(ROOT)}:{item.line}: private {what}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", tracked_python_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_sizes(path: Path) -> None:
    text = path.read_text()
    lines = len(text.splitlines())
    assert lines <= MAX_FILE_LINES, f"{lines} lines: split it by concept"
    if str(path.relative_to(ROOT)).startswith(DECLARATIVE):
        return
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines, line {node.lineno})"
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {', '.join(long)}"
