"""The dashboard linter: ``acgs-dashboards lint PATH... [--format text|json]``.

Checks live one per module in :mod:`acgs_dashboards.lint.checks`, listed in ``CHECKS``;
each is documented in ``packages/acgs-dashboards/docs/checks.md`` (what it catches, an
example, how to silence it); the PromQL checks are acgs-promql's, with their pages in
``packages/acgs-promql/docs/checks/``. Findings are :class:`acgs_promql.findings.Finding`.
"""

from acgs_dashboards.lint.base import Check, LintOptions
from acgs_dashboards.lint.runner import (
    LintReport,
    LintUsageError,
    collect_files,
    find_files,
    lint_dashboards,
    lint_paths,
)

__all__ = [
    "Check",
    "LintOptions",
    "LintReport",
    "LintUsageError",
    "collect_files",
    "find_files",
    "lint_dashboards",
    "lint_paths",
]
