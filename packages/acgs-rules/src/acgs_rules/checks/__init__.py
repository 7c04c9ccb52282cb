"""The rule-level checks, one module each; :mod:`acgs_rules.checks.registry` lists them with
the PromQL checks of :mod:`acgs_promql` (run over every rule by
:mod:`acgs_rules.checks.promql`)."""
