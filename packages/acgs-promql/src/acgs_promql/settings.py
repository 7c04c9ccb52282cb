"""The one settings file both linters read: ``acgs-lint.yml``.

Shared fields at the top, each linter's own in its section::

    extra_metrics: ["shop_.*"]        # more metric names to accept as known (regexes)
    source: [service/]                # service code defining metrics (as --source)
    target_labels: [job, instance, namespace]  # labels every scraped series carries
    disabled_checks: [promql/range-window]     # shared: PromQL checks (both linters)
    severity_overrides: {promql/unknown-metric: error}
    max_file_size: 5MiB
    rules:                            # acgs-rules only (see acgs_rules.settings)
      scrape_interval: 30s
      disabled_checks: [alert/test-coverage]
    dashboards:                       # acgs-dashboards only
      rules: [rules/]                 # recording rules the dashboards read
      datasource_uids: [prometheus]
      disabled_checks: [panel/unit-fit]

A section's fields win over the shared ones; ``extra_metrics``, ``source``,
``target_labels`` and ``disabled_checks`` add up, ``severity_overrides`` merge. Paths are
relative to the file. Without ``--settings``, ``acgs-lint.yml`` in the current directory is
read when there is one (nothing is searched for upwards). The rule linter also reads its
fields at the top level (the older ``acgs-rules.yml`` form); the dashboard linter leaves
those to it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from acgs_promql.limits import format_size

__all__ = [
    "DECLARE_HINT",
    "DEFAULT_SETTINGS_FILE",
    "PATH_FIELDS",
    "SECTIONS",
    "SHARED_FIELDS",
    "SettingsFileError",
    "default_settings_file",
    "read_section",
]

DEFAULT_SETTINGS_FILE = "acgs-lint.yml"
# How to make a metric known that no source knows: both linters say the same.
DECLARE_HINT = (
    f"list it (a regex) in extra_metrics in {DEFAULT_SETTINGS_FILE}, or give the code defining "
    "it with --source"
)
SECTIONS = ("rules", "dashboards")
SHARED_FIELDS = frozenset(
    {
        "extra_metrics",
        "source",
        "target_labels",
        "disabled_checks",
        "severity_overrides",
        "max_file_size",
    }
)
MAX_SETTINGS_SIZE = 1024 * 1024  # a settings file is a page of YAML
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # _LOADER is a safe loader
_ADDED = ("extra_metrics", "source", "target_labels", "disabled_checks")
# Fields holding paths (or lists of paths), made relative to the settings file.
PATH_FIELDS = frozenset({"source", "rules", "alertmanager_config", "repo_root"})


class SettingsFileError(ValueError):
    """A settings file that cannot be read; the message names the file."""


def default_settings_file(cwd: Path | None = None) -> Path | None:
    """``acgs-lint.yml`` in the current directory, if there is one."""
    candidate = (cwd or Path.cwd()) / DEFAULT_SETTINGS_FILE
    return candidate if candidate.is_file() else None


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _resolve(key: str, value: Any, base: Path) -> Any:
    if key not in PATH_FIELDS:
        return value
    if isinstance(value, str):
        return str((base / value).resolve())
    if isinstance(value, list):
        return [str((base / v).resolve()) if isinstance(v, str) else v for v in value]
    return value


def read_section(path: Path, section: str, own_top_level: bool) -> dict[str, Any]:
    """The shared fields merged with ``section``'s, paths made absolute.

    ``own_top_level``: other top-level fields belong to this linter (the rule linter's
    older flat form); else they are left out (they are the other linter's).
    """
    if path.is_file() and path.stat().st_size > MAX_SETTINGS_SIZE:
        raise SettingsFileError(
            f"{path}: {path.stat().st_size} bytes is not a settings file (limit "
            f"{format_size(MAX_SETTINGS_SIZE)}): pass the right --settings file"
        )
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER) or {}  # noqa: S506
    except (OSError, UnicodeDecodeError) as error:
        raise SettingsFileError(f"{path}: cannot read settings: {error}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(error, "problem", None) or "invalid YAML"
        raise SettingsFileError(f"{where}: cannot read settings: {problem}") from None
    except RecursionError:
        raise SettingsFileError(f"{path}: cannot read settings: nested too deeply") from None
    if not isinstance(data, dict):
        raise SettingsFileError(f"{path}: settings must be a mapping of field: value")
    own = data.get(section, {})
    if own is None:
        own = {}
    if not isinstance(own, dict):
        raise SettingsFileError(f"{path}: '{section}' must be a mapping of field: value")
    merged: dict[str, Any] = {}
    for key, value in data.items():
        key = str(key)
        if key in SECTIONS:
            continue
        if key in SHARED_FIELDS or own_top_level:
            merged[key] = value
    for key, value in own.items():
        key = str(key)
        if key in _ADDED and key in merged:
            merged[key] = [*_as_list(merged[key]), *_as_list(value)]
        elif key == "severity_overrides" and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **(value if isinstance(value, dict) else {})}
        else:
            merged[key] = value
    return {key: _resolve(key, value, path.parent) for key, value in merged.items()}
