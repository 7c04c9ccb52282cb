"""A live Prometheus as a source for the linters.

- :mod:`~acgs_promql.live.client` the connection (``--prometheus URL``, ``--ca-file``,
  credentials from the environment) and :class:`~acgs_promql.live.client.LiveError`;
- :mod:`~acgs_promql.live.view` what the server knows of the metrics the expressions read
  (``/api/v1/metadata``, ``/api/v1/series``, ``/api/v1/targets``), fetched with bounded
  concurrency before any check runs, so the checks themselves only look things up;
- :mod:`~acgs_promql.live.backtest` how often an alert would have fired and flapped over
  the last hours (a range query of its expression with ``for`` applied).
"""
