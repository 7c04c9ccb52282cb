"""Every PromQL check, in the order their findings are reported. Add one: a module, a line."""

from __future__ import annotations

from acgs_promql.checks import (
    compat,
    counter,
    histogram,
    label_value,
    range_window,
    series,
    syntax,
    unknown_label,
    unknown_metric,
)
from acgs_promql.checks.base import Check

__all__ = ["BY_NAME", "CHECKS"]

CHECKS: tuple[Check, ...] = (
    syntax.CHECK,
    compat.CHECK,
    unknown_metric.CHECK,
    unknown_label.CHECK,
    counter.CHECK,
    histogram.CHECK,
    range_window.CHECK,
    series.CHECK,
    label_value.CHECK,
)
BY_NAME = {check.name: check for check in CHECKS}
