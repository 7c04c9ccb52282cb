"""The builder helpers refuse what would make a wrong panel, and derive units from the catalog."""

from __future__ import annotations

import json

import pytest
from grafana_foundation_sdk.cog.encoder import JSONEncoder

from acgs_dashboards.builders import quantile_panel, rate, unit_for
from acgs_metrics import CATALOG


def test_rate_refuses_gauges() -> None:
    with pytest.raises(ValueError, match="acgs_active_sessions is a gauge"):
        rate("acgs_active_sessions")
    assert rate("acgs_http_requests_total", by=("service",)) == (
        'sum by (service) (rate(acgs_http_requests_total{service=~"$service"}[$__rate_interval]))'
    )


def test_quantile_panel_keeps_le_and_takes_the_catalog_unit() -> None:
    spec = CATALOG["acgs_policy_synthesis_duration_seconds"]
    panel = json.loads(
        json.dumps(quantile_panel(spec, "t", "d", by=("synthesis_type",)).build(), cls=JSONEncoder)
    )
    assert panel["fieldConfig"]["defaults"]["unit"] == "s"
    exprs = [t["expr"] for t in panel["targets"]]
    assert [e.split(",")[0] for e in exprs] == [
        "histogram_quantile(0.5",
        "histogram_quantile(0.95",
        "histogram_quantile(0.99",
    ]
    assert all("sum by (le, synthesis_type)" in e for e in exprs)
    assert panel["targets"][0]["legendFormat"] == "p50 {{synthesis_type}}"


def test_quantile_panel_refuses_what_is_not_a_histogram_or_a_label() -> None:
    with pytest.raises(ValueError, match="not a histogram"):
        quantile_panel(CATALOG["acgs_active_sessions"], "t", "d")
    with pytest.raises(ValueError, match="no label"):
        quantile_panel(CATALOG["acgs_http_request_duration_seconds"], "t", "d", by=("pod",))


def test_units_from_the_catalog() -> None:
    assert unit_for(CATALOG["acgs_http_request_duration_seconds"]) == "s"
    assert unit_for(CATALOG["acgs_evolution_fitness_ratio"]) == "percentunit"
    assert unit_for(CATALOG["acgs_governance_actions_total"]) == "short"
