"""The intervals of a real Prometheus configuration, for detection latency and range windows.

From ``--prometheus-config FILE`` or the live server's ``/api/v1/status/config``: the global
``scrape_interval`` and ``evaluation_interval`` (Prometheus' own default, 1m, where the file
leaves them out) and each job's ``scrape_interval``. :func:`with_intervals` puts them in the
lint settings in place of the ACGS defaults; metric-name guesses (``scrape_intervals``)
are kept only when a settings file set them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from acgs_promql.durations import parse_duration
from acgs_rules.settings import LintSettings, SettingsError

__all__ = [
    "PROMETHEUS_DEFAULT_INTERVAL",
    "ConfigIntervals",
    "read_config",
    "read_config_file",
    "with_intervals",
]

PROMETHEUS_DEFAULT_INTERVAL = 60.0  # scrape and evaluation, when a config does not say


@dataclass(frozen=True)
class ConfigIntervals:
    origin: str  # said in findings: "prometheus.yml", "the live Prometheus' configuration"
    scrape_interval: float
    evaluation_interval: float
    jobs: dict[str, float] = field(default_factory=dict)


def _duration(value: Any, where: str) -> float | None:
    if value is None:
        return None
    try:
        return parse_duration(str(value))
    except ValueError as error:
        raise SettingsError(f"{where}: {error}") from None


def read_config(text: str, origin: str) -> ConfigIntervals:
    """The intervals in a Prometheus configuration's text; :class:`SettingsError` when it is
    not one (the message names ``origin`` and the field)."""
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        raise SettingsError(f"{origin}: not YAML: {error}") from None
    if not isinstance(data, dict):
        raise SettingsError(f"{origin}: a Prometheus configuration is a mapping")
    glob = data.get("global") or {}
    if not isinstance(glob, dict):
        raise SettingsError(f"{origin}: global: must be a mapping")
    scrape = _duration(glob.get("scrape_interval"), f"{origin}: global.scrape_interval")
    evaluation = _duration(glob.get("evaluation_interval"), f"{origin}: global.evaluation_interval")
    scrape = scrape or PROMETHEUS_DEFAULT_INTERVAL
    jobs: dict[str, float] = {}
    configs = data.get("scrape_configs") or []
    if not isinstance(configs, list):
        raise SettingsError(f"{origin}: scrape_configs: must be a list")
    for index, job in enumerate(configs):
        if isinstance(job, dict) and isinstance(job.get("job_name"), str):
            where = f"{origin}: scrape_configs[{index}].scrape_interval"
            jobs[job["job_name"]] = _duration(job.get("scrape_interval"), where) or scrape
    return ConfigIntervals(origin, scrape, evaluation or PROMETHEUS_DEFAULT_INTERVAL, jobs)


def read_config_file(path: Path) -> ConfigIntervals:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SettingsError(f"--prometheus-config {path}: cannot read: {error}") from None
    return read_config(text, str(path))


def with_intervals(settings: LintSettings, intervals: ConfigIntervals) -> LintSettings:
    """``settings`` with the configuration's intervals instead of the defaults."""
    guesses = settings.scrape_intervals if "scrape_intervals" in settings.model_fields_set else {}
    return settings.model_copy(
        update={
            "scrape_interval": intervals.scrape_interval,
            "evaluation_interval": intervals.evaluation_interval,
            "job_scrape_intervals": {re.escape(j): s for j, s in intervals.jobs.items()},
            "scrape_intervals": guesses,
        }
    )
