"""Lint and unit-test Prometheus alert and recording rules for ACGS.

- :func:`acgs_rules.lint.lint` runs everything and returns a :class:`~acgs_rules.lint.LintResult`;
- :mod:`acgs_rules.promql` parses and analyses PromQL (shared with the dashboard linter);
- :mod:`acgs_rules.checks` holds one module per static check;
- :class:`acgs_rules.settings.LintSettings` is every setting, with defaults.
"""

from acgs_rules.model import Finding, Severity
from acgs_rules.settings import LintSettings

__version__ = "0.1.0"
__all__ = ["Finding", "LintSettings", "Severity"]
