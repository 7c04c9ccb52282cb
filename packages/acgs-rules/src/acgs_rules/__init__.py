"""Lint and unit-test Prometheus alert and recording rules for ACGS.

- :func:`acgs_rules.lint.lint` runs everything and returns a :class:`~acgs_rules.lint.LintResult`;
- :mod:`acgs_rules.loader` reads rule files, manifests and test files, with line numbers;
- :mod:`acgs_rules.checks` holds the rule-level checks, one module each, and the registry
  (:mod:`acgs_rules.checks.registry`) that adds the PromQL checks of :mod:`acgs_promql`;
- :class:`acgs_rules.settings.LintSettings` is every setting, with defaults.
"""

__version__ = "0.1.0"
