"""Every check of the rule linter on generated expressions: no crash, no false syntax error."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from acgs_promql.expression import Expression
from acgs_rules.context import LintContext
from acgs_rules.lint import lint
from acgs_rules.model import Rule

Linter = Callable[..., Any]
AlertFile = Callable[..., str]

SELECTORS = st.sampled_from(
    [
        "up",
        'http_requests_total{code=~"5.."}',
        "job:req:rate5m",
        'node_load1{job="node"}',
        'acgs_http_requests_total{service="auth"}',
        "acgs_http_request_duration_seconds_bucket",
        "acgs_active_sessions",
    ]
)
DURATIONS = st.sampled_from(["30s", "1m", "5m", "1h"])


def _extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.builds(
            lambda f, v, d: f"{f}(({v})[{d}:])",
            st.sampled_from(["rate", "increase", "deriv", "max_over_time", "absent_over_time"]),
            inner,
            DURATIONS,
        ),
        st.builds(
            lambda op, label, v: f"{op} by ({label}) ({v})",
            st.sampled_from(["sum", "avg", "count", "max"]),
            st.sampled_from(["job", "le", "service", "instance"]),
            inner,
        ),
        st.builds(
            lambda a, op, b: f"({a}) {op} ({b})",
            inner,
            st.sampled_from(["+", "/", "and", "or", "unless", ">", "== bool", "* on (job)"]),
            inner,
        ),
        st.builds(lambda v: f"histogram_quantile(0.9, {v})", inner),
        st.builds(lambda v: f"({v}) > 1", inner),
    )


VECTORS = st.recursive(SELECTORS, _extend, max_leaves=6)


@settings(max_examples=150, deadline=None)
@given(VECTORS, st.sampled_from(["critical", "warning", "info"]))
def test_every_check_handles_generated_expressions(expr: str, severity: str) -> None:
    rule = {
        "alert": "Generated",
        "expr": expr,
        "for": "1m",
        "labels": {"severity": severity},
        "annotations": {"summary": "{{ $labels.job }}", "description": "d", "runbook_url": "x"},
    }
    recording = {"record": "job:req:rate5m", "expr": expr}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rules.yml"
        path.write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": [recording, rule]}]}))
        result = lint([path], promtool=False)
    assert not [f for f in result.findings if "internal error" in f.message]
    assert not [f for f in result.findings if f.check == "promql/syntax"]
    assert result.rules == 2


def test_a_recorded_metric_read_many_times_is_followed_once(
    lint_text: Linter, alert_file: AlertFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A chain of recording rules each reading the previous one four times, and one reading
    itself: the checks look at each recording rule a bounded number of times (following
    every occurrence was exponential: minutes, found by the generated test above)."""
    chain = "".join(
        f"      - record: r{i}\n        expr: (r{i - 1} + r{i - 1}) + (r{i - 1} + r{i - 1})\n"
        for i in range(1, 13)
    )
    recorded = "      - record: r0\n        expr: up\n" + chain
    recorded += "      - record: s\n        expr: (s + s) + (s + s)\n"
    text = alert_file("r12 + s").replace("    rules:\n", "    rules:\n" + recorded)
    looked_at = 0
    expression = LintContext.expression

    def counting(ctx: LintContext, rule: Rule) -> Expression:
        nonlocal looked_at
        looked_at += 1
        return expression(ctx, rule)

    monkeypatch.setattr(LintContext, "expression", counting)
    (finding,) = lint_text(text, "alert/comparison")
    assert "has no condition" in finding.message
    assert looked_at < 20_000  # over 4 ** 10 before
