"""Where a metric's type and labels come from, besides the catalog and the recording rules.

- :mod:`~acgs_promql.sources.base`: :class:`~acgs_promql.sources.base.Source` (the kinds, in
  the order the index trusts them), :class:`~acgs_promql.sources.base.MetricFamily` and the
  :class:`~acgs_promql.sources.base.MetricSource` protocol a source implements;
- :mod:`~acgs_promql.sources.code`: metric definitions in Python service code (``--source``);
- :mod:`~acgs_promql.sources.conventions`: what a name says by the OpenMetrics conventions
  alone (``_total``, ``_bucket``, ...), the last resort.

The exporter lists are data files read by :func:`acgs_promql.index.known_lists`; a live
Prometheus is a :class:`~acgs_promql.sources.base.MetricSource` of the live linter.
"""
