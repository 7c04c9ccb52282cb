"""Linter settings in one place, with defaults that match the ACGS stack.

The file is the one both linters read (``acgs-lint.yml``, see :mod:`acgs_promql.settings`):
the shared fields at the top plus the ``rules:`` section; these fields may also stand at the
top level (the older ``acgs-rules.yml`` form). Any of these (durations as ``15s``, ``1m``)::

    required_labels: [severity]
    required_annotations: [summary, description, runbook_url]
    severities: [critical, warning, info]
    scrape_interval: 15s              # the global one
    scrape_intervals: {"acgs_.*": 5s}  # metric-name regex -> interval (first match wins)
    job_scrape_intervals: {"acgs-.*": 5s}  # job regex -> interval, for selectors with a job
                                      # matcher whose value matches it (or, for =~, equals it)
    evaluation_interval: 5s
    max_group_interval: 1m
    min_for: {critical: 0s, warning: 15s, info: 1m}
    group_wait: {critical: 5s, default: 30s}   # used when no Alertmanager config is given
    detection_targets: {critical: 30s, warning: 10m, info: 1h}
    target_labels: [job, instance]    # labels every scraped series carries
    extra_metrics: ["myapp_.*"]       # more metric names to accept (regexes)
    source: [service/]                # Python service code defining metrics (--source)
    min_prometheus_version: "2.42"    # oldest Prometheus the rules must run on
    alertmanager_config: path/to/alertmanager.yml
    runbook_base_url: https://github.com/acgs/acgs-monitoring/blob/main/
    repo_root: .                      # where runbook_base_url points
    disabled_checks: []
    severity_overrides: {}            # check name -> error|warning
    max_file_size: 5MiB               # larger input files are refused (yaml/syntax error)

Paths in the file are relative to the file itself.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PositiveInt,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from acgs_promql.durations import parse_duration
from acgs_promql.findings import Severity
from acgs_promql.limits import DEFAULT_MAX_FILE_SIZE, parse_size
from acgs_promql.settings import SettingsFileError, read_section


def _seconds(value: Any) -> Any:
    if isinstance(value, str):
        return parse_duration(value)
    return value


Seconds = Annotated[float, BeforeValidator(_seconds)]


def _bytes(value: Any) -> Any:
    if isinstance(value, str):
        return parse_size(value)
    return value


Bytes = Annotated[PositiveInt, BeforeValidator(_bytes)]
# A field whose keys or items are names to check (regexes, check names).
_Names = TypeVar("_Names", tuple[str, ...], dict[str, float], dict[str, Severity])


class SettingsError(ValueError):
    """A settings file that cannot be used; the message names the file and field."""


def unknown_checks_message(names: Collection[str]) -> str:
    return f"unknown check(s) {', '.join(names)}; see 'acgs-rules checks' for the names"


class LintSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    required_labels: tuple[str, ...] = ("severity",)
    required_annotations: tuple[str, ...] = ("summary", "description", "runbook_url")
    severities: tuple[str, ...] = ("critical", "warning", "info")
    scrape_interval: Seconds = 15.0
    scrape_intervals: dict[str, Seconds] = {"acgs_.*": 5.0}
    job_scrape_intervals: dict[str, Seconds] = {"acgs-.*": 5.0}
    evaluation_interval: Seconds = 5.0
    max_group_interval: Seconds = 60.0
    min_for: dict[str, Seconds] = {"critical": 0.0, "warning": 15.0, "info": 60.0}
    group_wait: dict[str, Seconds] = {"critical": 5.0, "default": 30.0}
    detection_targets: dict[str, Seconds] = {"critical": 30.0, "warning": 600.0, "info": 3600.0}
    target_labels: tuple[str, ...] = ("job", "instance")
    extra_metrics: tuple[str, ...] = ()  # regexes of metric names to accept as known
    source: tuple[Path, ...] = ()  # service code whose metric definitions the index reads
    min_prometheus_version: str = "2.42"
    alertmanager_config: Path | None = None
    runbook_base_url: str = "https://github.com/acgs/acgs-monitoring/blob/main/"
    repo_root: Path | None = None
    disabled_checks: tuple[str, ...] = ()
    severity_overrides: dict[str, Severity] = {}
    max_file_size: Bytes = DEFAULT_MAX_FILE_SIZE

    @field_validator("scrape_intervals", "job_scrape_intervals", "extra_metrics")
    @classmethod
    def _valid_patterns(cls, value: _Names) -> _Names:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as error:
                raise ValueError(f"invalid regex {pattern!r}: {error}") from None
        return value

    @field_validator("disabled_checks", "severity_overrides")
    @classmethod
    def _known_checks(cls, value: _Names, info: ValidationInfo) -> _Names:
        # The check names come in the validation context (see from_file): the checks read
        # the settings, so the settings do not import the checks.
        known = info.context.get("check_names") if isinstance(info.context, dict) else None
        unknown = [name for name in value if known is not None and name not in known]
        if unknown:
            raise ValueError(unknown_checks_message(unknown))
        return value

    def scrape_interval_for(self, metric: str) -> float:
        for pattern, seconds in self.scrape_intervals.items():
            if re.fullmatch(pattern, metric):
                return seconds
        return self.scrape_interval

    def job_scrape_interval(self, op: str, value: str) -> float | None:
        """The interval of the jobs a ``job`` matcher selects, when the settings know it."""
        for pattern, seconds in self.job_scrape_intervals.items():
            if (op == "=" and re.fullmatch(pattern, value)) or (op == "=~" and value == pattern):
                return seconds
        return None

    def group_wait_for(self, severity: str | None) -> float:
        if severity is not None and severity in self.group_wait:
            return self.group_wait[severity]
        return self.group_wait.get("default", 30.0)

    @classmethod
    def from_file(cls, path: Path, check_names: Collection[str] | None = None) -> LintSettings:
        """The settings in a YAML file; with ``check_names``, names of checks in
        ``disabled_checks`` and ``severity_overrides`` must be among them."""
        try:
            data = read_section(path, "rules", own_top_level=True)
        except SettingsFileError as error:
            raise SettingsError(str(error)) from None
        try:
            return cls.model_validate(data, context={"check_names": check_names})
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
                for e in error.errors()
            )
            raise SettingsError(f"{path}: invalid settings: {problems}") from None
