"""The PromQL checks, one module each, listed in :mod:`acgs_promql.checks.registry`.

The interface is in :mod:`acgs_promql.checks.base`; each check's page is
``packages/acgs-promql/docs/checks/<name with / as ->.md``.
"""
