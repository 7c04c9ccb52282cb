"""PromQL for the ACGS linters, one concept per module.

- :mod:`~acgs_promql.lexer` tokens and :class:`~acgs_promql.lexer.PromQLError`;
  :mod:`~acgs_promql.tree` the syntax tree; :mod:`~acgs_promql.parser` ``parse(text)``;
- :mod:`~acgs_promql.language` functions, aggregators, operators, versions;
  :mod:`~acgs_promql.durations` ``parse_duration``/``format_duration``;
- :mod:`~acgs_promql.labels` which labels a result carries; :mod:`~acgs_promql.walker` one
  walk with each node's context; :mod:`~acgs_promql.analysis` ``analyze(expr)``;
- :mod:`~acgs_promql.expression` an expression to check and its role (alert, record, panel,
  instant); :mod:`~acgs_promql.index` what is known about each metric, and from where;
- :mod:`~acgs_promql.checks` the PromQL checks, each written once;
  :mod:`~acgs_promql.findings` ``Finding``/``Severity``; :mod:`~acgs_promql.printers` text
  and JSON output, exit codes; :mod:`~acgs_promql.repository` ``find_repo_root``.
"""
