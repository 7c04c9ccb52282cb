"""The dashboard linter: ``acgs-dashboards lint PATH... [--format text|json]``.

Checks live one per module in :mod:`acgs_dashboards.lint.checks`, listed in ``CHECKS``;
each is documented in the package README (name, what it catches, how to silence it).
"""

from acgs_dashboards.lint.base import Check, LintOptions
from acgs_dashboards.lint.findings import Finding, Severity, exit_code, render_json, render_text
from acgs_dashboards.lint.runner import LintUsageError, collect_files, lint_dashboards, lint_paths

__all__ = [
    "Check",
    "Finding",
    "LintOptions",
    "LintUsageError",
    "Severity",
    "collect_files",
    "exit_code",
    "lint_dashboards",
    "lint_paths",
    "render_json",
    "render_text",
]
