"""The dashboard linter: ``acgs-dashboards lint PATH... [--format text|json]``.

Checks live one per module in :mod:`acgs_dashboards.lint.checks`, listed in ``CHECKS``;
each is documented in ``packages/acgs-dashboards/docs/checks.md`` (what it catches, an
example, how to silence it). Findings are the rule linter's ``Finding``.
"""

from acgs_dashboards.lint.base import Check, LintOptions
from acgs_dashboards.lint.runner import (
    LintReport,
    LintUsageError,
    RecordingRules,
    collect_files,
    find_files,
    lint_dashboards,
    lint_paths,
    load_recording_rules,
    recorded_metrics,
)

__all__ = [
    "Check",
    "LintOptions",
    "LintReport",
    "LintUsageError",
    "RecordingRules",
    "collect_files",
    "find_files",
    "lint_dashboards",
    "lint_paths",
    "load_recording_rules",
    "recorded_metrics",
]
