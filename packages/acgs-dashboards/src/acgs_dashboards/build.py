"""Build the dashboards in ``dashboards/*.py`` into Grafana JSON and provisioning files.

Each definition module exposes ``build() -> grafana_foundation_sdk.builders.dashboard.Dashboard``.
:func:`build_all` writes::

    OUT/dashboards/<uid>.json                  one file per dashboard
    OUT/provisioning/datasources/acgs.yml      the Prometheus datasource (fixed uid)
    OUT/provisioning/dashboards/acgs.yml       the file provider, folder "ACGS"

Output is deterministic: keys sorted, panel ids numbered in layout order, no timestamps, so
the same definitions give byte-identical files. Nothing is written until every dashboard
has built, so a broken definition never leaves a half-written output directory.

No secret is ever written: the datasource file refers to environment variables that
Grafana expands when it reads its provisioning (see :data:`PROVISIONING_ENV`).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml
from grafana_foundation_sdk.cog.encoder import JSONEncoder

from acgs_dashboards.builders import PROVISIONED_DATASOURCE_UID, SCHEMA_VERSION
from acgs_promql.repository import find_repo_root

__all__ = [
    "FOLDER",
    "PROVISIONING_ENV",
    "BuildError",
    "BuildResult",
    "build_all",
    "default_source_dir",
    "load_definitions",
    "render_json",
]

FOLDER = "ACGS"
FOLDER_UID = "acgs"
# Environment variables Grafana must carry; the files only name them.
PROVISIONING_ENV = {
    "ACGS_PROMETHEUS_URL": "Prometheus base URL, e.g. https://127.0.0.1:9090",
    "PROMETHEUS_USERNAME": "basic auth user for Prometheus (monitoring.env)",
    "PROMETHEUS_PASSWORD": "basic auth password for Prometheus (monitoring.env)",
    "ACGS_PROMETHEUS_CA_CERT": "PEM text of the CA that signed Prometheus' certificate",
}
# Matches the stack's global scrape interval, so $__rate_interval always spans 4 scrapes.
SCRAPE_INTERVAL = "15s"


class BuildError(Exception):
    """A dashboard definition could not be loaded or built; the message names the file."""


@dataclass(frozen=True)
class BuildResult:
    dashboards: tuple[Path, ...]
    provisioning: tuple[Path, ...]

    @property
    def files(self) -> tuple[Path, ...]:
        return self.dashboards + self.provisioning


def default_source_dir() -> Path:
    """``$ACGS_DASHBOARDS_DIR``, else ``dashboards/`` of the repository holding the current
    directory, else of the checkout this package runs from."""
    configured = os.environ.get("ACGS_DASHBOARDS_DIR")
    if configured:
        return Path(configured)
    for start in (Path.cwd(), Path(__file__)):
        candidate = find_repo_root(start) / "dashboards"
        if candidate.is_dir() and any(candidate.glob("*.py")):
            return candidate
    raise BuildError(
        "cannot find the dashboards/ directory; pass --source DIR or set ACGS_DASHBOARDS_DIR"
    )


def _definition_files(source_dir: Path) -> list[Path]:
    if not source_dir.is_dir():
        raise BuildError(f"{source_dir}: not a directory of dashboard definitions")
    files = sorted(p for p in source_dir.glob("*.py") if not p.name.startswith("_"))
    if not files:
        raise BuildError(f"{source_dir}: no dashboard definitions (*.py) found")
    return files


def _import(path: Path) -> ModuleType:
    name = f"acgs_dashboard_definitions.{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise BuildError(f"{path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        raise BuildError(f"{path}: import failed: {type(error).__name__}: {error}") from error
    finally:
        sys.modules.pop(name, None)
    return module


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def _finalise(board: dict[str, Any]) -> dict[str, Any]:
    """Number panels in layout order (the SDK leaves every id 0) and fix the schema."""
    for number, panel in enumerate(_panels(board.get("panels", [])), start=1):
        panel["id"] = number
    board["schemaVersion"] = SCHEMA_VERSION
    board.pop("id", None)
    return board


def load_definitions(source_dir: Path | None = None) -> list[tuple[Path, dict[str, Any]]]:
    """Import every definition module and build its dashboard into a JSON-ready dict."""
    result: list[tuple[Path, dict[str, Any]]] = []
    seen: dict[str, Path] = {}
    for path in _definition_files(source_dir or default_source_dir()):
        module = _import(path)
        build = getattr(module, "build", None)
        if not callable(build):
            raise BuildError(f"{path}: define build() returning a Dashboard builder")
        try:
            built = build().build()
            board: dict[str, Any] = json.loads(json.dumps(built, cls=JSONEncoder))
        except Exception as error:
            raise BuildError(f"{path}: build() failed: {type(error).__name__}: {error}") from error
        uid = board.get("uid")
        if not uid:
            raise BuildError(f"{path}: the dashboard has no uid; call .uid('acgs-...')")
        if uid in seen:
            raise BuildError(f"{path}: uid {uid!r} is already used by {seen[uid]}")
        seen[uid] = path
        result.append((path, _finalise(board)))
    return result


def render_json(board: dict[str, Any]) -> str:
    return json.dumps(board, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _yaml(header: str, document: dict[str, Any]) -> str:
    body = yaml.safe_dump(document, sort_keys=False, default_flow_style=False)
    return f"# Generated by `acgs-dashboards build`; do not edit.\n{header}{body}"


def datasource_provisioning() -> str:
    env_notes = "".join(f"#   {name}: {what}\n" for name, what in PROVISIONING_ENV.items())
    document = {
        "apiVersion": 1,
        "datasources": [
            {
                "name": "ACGS Prometheus",
                "type": "prometheus",
                "uid": PROVISIONED_DATASOURCE_UID,
                "access": "proxy",
                "url": "$ACGS_PROMETHEUS_URL",
                "isDefault": True,
                "editable": False,
                "basicAuth": True,
                "basicAuthUser": "$PROMETHEUS_USERNAME",
                "jsonData": {
                    "httpMethod": "POST",
                    "prometheusType": "Prometheus",
                    "timeInterval": SCRAPE_INTERVAL,
                    "tlsAuthWithCACert": True,
                },
                # $VAR, not ${VAR}: Grafana expands ${...} a second time inside values.
                "secureJsonData": {
                    "basicAuthPassword": "$PROMETHEUS_PASSWORD",
                    "tlsCACert": "$ACGS_PROMETHEUS_CA_CERT",
                },
            }
        ],
    }
    header = "# Grafana expands these environment variables when it loads this file:\n"
    return _yaml(header + env_notes, document)


def dashboard_provisioning(dashboards_path: str) -> str:
    document = {
        "apiVersion": 1,
        "providers": [
            {
                "name": "acgs",
                "orgId": 1,
                "folder": FOLDER,
                "folderUid": FOLDER_UID,
                "type": "file",
                "disableDeletion": True,
                "allowUiUpdates": False,
                "updateIntervalSeconds": 30,
                "options": {"path": dashboards_path, "foldersFromFilesStructure": False},
            }
        ],
    }
    return _yaml("# Dashboards are code: change dashboards/*.py and rebuild.\n", document)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)


def build_all(
    out_dir: Path, source_dir: Path | None = None, dashboards_path: str | None = None
) -> BuildResult:
    """Build every definition into ``out_dir``; ``dashboards_path`` is where Grafana reads them.

    ``dashboards_path`` defaults to ``out_dir/dashboards`` (absolute), right for a Grafana on
    this machine; a container passes its mount point instead.
    """
    boards = load_definitions(source_dir)
    dashboards_dir = out_dir / "dashboards"
    rendered = {dashboards_dir / f"{board['uid']}.json": render_json(board) for _, board in boards}
    provider_path = dashboards_path or str(dashboards_dir.resolve())
    provisioning = {
        out_dir / "provisioning" / "datasources" / "acgs.yml": datasource_provisioning(),
        out_dir / "provisioning" / "dashboards" / "acgs.yml": dashboard_provisioning(provider_path),
    }
    for path, text in {**rendered, **provisioning}.items():
        _write(path, text)
    # The provider loads every JSON file in the directory: drop dashboards no longer defined.
    for stale in dashboards_dir.glob("*.json"):
        if stale not in rendered:
            stale.unlink()
    return BuildResult(dashboards=tuple(rendered), provisioning=tuple(provisioning))
