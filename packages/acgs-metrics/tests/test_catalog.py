"""The catalog: the required metrics exist as specified, and bad specs are refused clearly."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from acgs_metrics import CATALOG, SERVICE_NAMES, LabelSpec, MetricSpec, MetricType, Unit
from acgs_metrics.cli import catalog_json, catalog_markdown, main
from acgs_metrics.schema import Catalog
from acgs_testkit.paths import REPO_ROOT

REQUIRED = {
    "acgs_constitutional_compliance_score": (MetricType.GAUGE, ("service", "principle_id")),
    "acgs_policy_synthesis_duration_seconds": (
        MetricType.HISTOGRAM,
        ("service", "synthesis_type"),
    ),
    "acgs_governance_action_cost_sol": (MetricType.GAUGE, ("action_type", "service")),
    "acgs_policy_synthesis_operations_total": (
        MetricType.COUNTER,
        ("service", "synthesis_type", "result"),
    ),
    "acgs_http_requests_total": (
        MetricType.COUNTER,
        ("service", "endpoint", "method", "status_code"),
    ),
    "acgs_http_request_duration_seconds": (MetricType.HISTOGRAM, ("service", "endpoint", "method")),
    "acgs_metrics_cardinality_overflow_total": (MetricType.COUNTER, ("metric",)),
}


@pytest.mark.parametrize(("name", "expected"), REQUIRED.items())
def test_required_metrics(name: str, expected: tuple[MetricType, tuple[str, ...]]) -> None:
    spec = CATALOG[name]
    assert (spec.type, spec.label_names) == expected


def test_compliance_score_is_bounded_to_unit_interval() -> None:
    assert CATALOG["acgs_constitutional_compliance_score"].value_range == (0.0, 1.0)


def test_every_service_label_allows_the_seven_services() -> None:
    assert SERVICE_NAMES == ("auth", "ac", "integrity", "fv", "gs", "pgc", "ec")
    for spec in CATALOG:
        if "service" in spec.label_names:
            assert spec.label("service").values == SERVICE_NAMES


def test_every_metric_is_bounded() -> None:
    for spec in CATALOG:
        assert 1 <= spec.series_bound <= 10_000, spec.name


def spec(**overrides: object) -> MetricSpec:
    fields: dict[str, object] = {
        "name": "acgs_things_total",
        "type": MetricType.COUNTER,
        "help": "Things.",
        "labels": (LabelSpec(name="kind", description="k", values=("a", "b")),),
    }
    fields.update(overrides)
    return MetricSpec.model_validate(fields)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"name": "things_total"}, "start with 'acgs_'"),
        ({"name": "acgs_Things_total"}, "snake_case"),
        ({"name": "acgs_things"}, "counter names end in '_total'"),
        ({"type": MetricType.GAUGE}, "only counters end in '_total'"),
        ({"name": "acgs_wait_total", "unit": Unit.SECONDS}, "must end in '_seconds'"),
        (
            {"name": "acgs_wait_seconds", "type": MetricType.GAUGE},
            "declares no unit; set unit='seconds'",
        ),
        (
            {"name": "acgs_wait_milliseconds", "type": MetricType.GAUGE},
            "use a base unit",
        ),
        (
            {"name": "acgs_wait_seconds", "type": MetricType.HISTOGRAM, "unit": Unit.SECONDS},
            "needs buckets",
        ),
        (
            {
                "name": "acgs_wait_seconds",
                "type": MetricType.HISTOGRAM,
                "unit": Unit.SECONDS,
                "buckets": (1.0, 0.5),
            },
            "strictly increasing",
        ),
        ({"buckets": (1.0,)}, "only histograms have buckets"),
        ({"help": ""}, "at least 1 character"),
        ({"multiprocess_mode": "livesum"}, "only gauges have a multiprocess_mode"),
        ({"name": "acgs_queue_count", "type": MetricType.GAUGE}, "ends in '_count'"),
        (
            {
                "name": "acgs_wait_seconds_bucket",
                "type": MetricType.HISTOGRAM,
                "buckets": (1.0,),
            },
            "ends in '_bucket', a suffix the exposition formats add",
        ),
        ({"name": "acgs_build_info", "type": MetricType.GAUGE}, "ends in '_info'"),
        ({"name": "acgs_cost_sum", "type": MetricType.GAUGE}, "ends in '_sum'"),
        ({"name": "acgs_started_created", "type": MetricType.GAUGE}, "ends in '_created'"),
    ],
)
def test_bad_specs_are_refused_with_the_reason(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        spec(**overrides)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "le", "values": ("a",)}, "reserved"),
        ({"name": "__name", "values": ("a",)}, "reserved"),
        ({"name": "9lives", "values": ("a",)}, "not a valid Prometheus label name"),
        ({"name": "kind"}, "needs allowed values or max_values"),
        ({"name": "kind", "values": ("a", "a")}, "values repeat"),
        ({"name": "code", "pattern": "[0-9]{3}", "max_values": 5, "example": "x"}, "not allowed"),
    ],
)
def test_bad_labels_are_refused(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        LabelSpec.model_validate({"description": "d", **fields})


def test_a_bad_label_pattern_names_the_label_and_the_metric() -> None:
    with pytest.raises(ValidationError, match=r"label 'code': pattern '\[0-9' is not a valid"):
        LabelSpec(name="code", description="d", pattern="[0-9", max_values=5)
    with pytest.raises(ValidationError) as raised:
        spec(
            labels=(
                {"name": "kind", "description": "k", "values": ("a",)},
                {"name": "code", "description": "d", "pattern": "(", "max_values": 5},
            )
        )
    message = str(raised.value)
    assert "metric acgs_things_total: label 'code': pattern '(' is not a valid" in message
    assert "missing ), unterminated subpattern" in message


def test_metrics_exposing_the_same_sample_are_refused() -> None:
    # Counter acgs_jobs_total and histogram acgs_jobs both expose acgs_jobs_created.
    histogram = spec(name="acgs_jobs", type=MetricType.HISTOGRAM, buckets=(1.0,), labels=())
    counter = spec(name="acgs_jobs_total", labels=())
    with pytest.raises(
        ValidationError, match="acgs_jobs_total and acgs_jobs both expose 'acgs_jobs"
    ):
        Catalog(metrics=(counter, histogram))
    # A gauge acgs_jobs would share the counter's family name (OpenMetrics drops _total).
    gauge = spec(name="acgs_jobs", type=MetricType.GAUGE, labels=())
    with pytest.raises(ValidationError, match="both expose 'acgs_jobs'"):
        CATALOG.extended([counter, gauge])


def test_duplicate_metric_names_are_refused() -> None:
    with pytest.raises(ValidationError, match="defined twice"):
        CATALOG.extended([CATALOG["acgs_http_requests_total"]])


def test_series_names_cover_histogram_and_counter_samples() -> None:
    by_series = CATALOG.by_series_name()
    assert by_series["acgs_http_request_duration_seconds_bucket"].name == (
        "acgs_http_request_duration_seconds"
    )
    assert by_series["acgs_http_requests_total"].name == "acgs_http_requests_total"
    # prometheus_client exposes a _created sample for histograms as well as counters.
    assert by_series["acgs_http_request_duration_seconds_created"].type is MetricType.HISTOGRAM
    assert by_series["acgs_http_requests_created"].type is MetricType.COUNTER


def test_json_output_round_trips_to_the_same_catalog() -> None:
    data = json.loads(catalog_json())
    assert type(CATALOG).model_validate(data) == CATALOG


def test_markdown_lists_every_metric(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["catalog", "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert out == catalog_markdown()
    for metric in CATALOG:
        assert f"`{metric.name}`" in out


def test_markdown_gives_buckets_ranges_and_bounds() -> None:
    text = catalog_markdown()
    compliance = text.split("## acgs_constitutional_compliance_score\n", 1)[1].split("\n## ")[0]
    assert "- value range: 0 to 1" in compliance
    assert "- series bound: 448 (labels' product)" in compliance
    assert "| `principle_id` | matching `[A-Za-z0-9_.:-]{1,64}` (e.g. `P-001`) | 64 |" in compliance
    synthesis = text.split("## acgs_policy_synthesis_duration_seconds\n", 1)[1].split("\n## ")[0]
    assert "- buckets: 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, +Inf" in synthesis
    assert "| [`acgs_http_requests_total`](#acgs_http_requests_total) | counter | - |" in text
    assert "- series bound: 2,000 (set)" in text


def test_committed_catalog_doc_is_up_to_date() -> None:
    doc = REPO_ROOT / "packages" / "acgs-metrics" / "docs" / "catalog.md"
    assert doc.read_text(encoding="utf-8") == catalog_markdown(), (
        f"{doc} is stale; regenerate it: uv run acgs-metrics catalog --format markdown > {doc}"
    )
