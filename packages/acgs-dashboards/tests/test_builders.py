"""The builder helpers refuse what would make a wrong panel, and derive units from the catalog."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from grafana_foundation_sdk.cog.encoder import JSONEncoder

from acgs_dashboards.builders import availability, error_ratio, quantile_panel, rate, unit_for
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


def test_error_ratio_and_availability_are_never_nan(tmp_path: Path) -> None:
    """Evaluated by real promtool: pgc fails 1 in 4; ec has no 5xx series; fv serves nothing
    in the window (0/0); the ratio is 0 and availability 1 there, not NaN."""

    def series(service: str, code: int, values: str) -> dict[str, str]:
        labels = f'service="{service}", endpoint="/e", method="GET", status_code="{code}"'
        return {"series": f"acgs_http_requests_total{{{labels}}}", "values": values}

    expected = {"pgc": (0.25, 0.75), "ec": (0, 1), "fv": (0, 1)}
    tests = [
        {
            "expr": f(selector='service=~"pgc|ec|fv"', interval="5m", by=("service",)),
            "eval_time": "20m",
            "exp_samples": [
                {"labels": f'{{service="{s}"}}', "value": values[index]}
                for s, values in expected.items()
            ],
        }
        for index, f in enumerate((error_ratio, availability))
    ]
    case = {
        "interval": "1m",
        "input_series": [
            series("pgc", 200, "0+3x20"),
            series("pgc", 500, "0+1x20"),
            series("ec", 200, "0+5x20"),
            series("fv", 200, "7x20"),
            series("fv", 503, "2x20"),
        ],
        "promql_expr_test": tests,
    }
    test_file = tmp_path / "ratios.test.yml"
    test_file.write_text(yaml.safe_dump({"rule_files": [], "tests": [case]}))
    result = subprocess.run(
        ["promtool", "test", "rules", str(test_file)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
