"""The dashboard linter's part of ``acgs-lint.yml``: the shared fields and ``dashboards:``.

Fields (see :mod:`acgs_promql.settings` for the file's layout)::

    extra_metrics: ["shop_.*"]      # shared: metric names to accept (regexes)
    source: [service/]              # shared: service code defining metrics
    target_labels: [namespace]      # shared: labels scrape configs add (job, instance always)
    disabled_checks: [...]          # shared and per section: check names
    severity_overrides: {check: error|warning}
    max_file_size: 5MiB
    dashboards:
      rules: [rules/]               # recording rules the dashboards read (as --rules)
      datasource_uids: [prometheus] # provisioned datasource uids panels may name
      scrape_interval: 30s          # global scrape interval (as --scrape-interval)
"""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path
from typing import Any

from acgs_promql.durations import parse_duration
from acgs_promql.findings import Severity
from acgs_promql.limits import parse_size
from acgs_promql.settings import SettingsFileError, read_section

__all__ = ["DashboardSettings", "read_settings"]

DashboardSettings = dict[str, Any]  # LintOptions field -> value
_LISTS = {
    "extra_metrics": "extra_metrics",
    "source": "sources",
    "target_labels": "target_labels",
    "disabled_checks": "disabled_checks",
    "rules": "rules",
    "datasource_uids": "datasource_uids",
}


def _strings(path: Path, key: str, value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(item, str) for item in items):
        raise SettingsFileError(f"{path}: {key}: expected a list of strings")
    return list(items)


def read_settings(path: Path, check_names: Collection[str]) -> DashboardSettings:
    """The fields of ``path`` this linter uses, checked: a bad value or an unknown check
    name raises :class:`SettingsFileError` naming the file and the field."""
    data = read_section(path, "dashboards", own_top_level=False)
    result: DashboardSettings = {}
    for key, value in data.items():
        if key in _LISTS:
            result[_LISTS[key]] = _strings(path, key, value)
        elif key == "severity_overrides" and isinstance(value, dict):
            try:
                result[key] = {str(k): Severity(str(v)) for k, v in value.items()}
            except ValueError:
                raise SettingsFileError(f"{path}: {key}: severities are error or warning") from None
        elif key == "scrape_interval":
            try:
                result["scrape_interval_s"] = parse_duration(str(value))
            except ValueError as error:
                raise SettingsFileError(f"{path}: {key}: {error}") from None
        elif key == "max_file_size":
            try:
                result[key] = parse_size(str(value))
            except ValueError as error:
                raise SettingsFileError(f"{path}: {key}: {error}") from None
        else:
            raise SettingsFileError(f"{path}: dashboards: unknown field {key!r}")
    for pattern in result.get("extra_metrics", []):
        try:
            re.compile(pattern)
        except re.error as error:
            message = f"{path}: extra_metrics: invalid regex {pattern!r}: {error}"
            raise SettingsFileError(message) from None
    named = [*result.get("disabled_checks", []), *result.get("severity_overrides", {})]
    unknown = [name for name in named if name not in check_names]
    if unknown:
        raise SettingsFileError(
            f"{path}: unknown check(s) {', '.join(unknown)}; see 'acgs-dashboards checks'"
        )
    return result
