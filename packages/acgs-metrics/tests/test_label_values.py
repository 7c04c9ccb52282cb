"""Label values no exposition can carry, and what a folded label set keeps.

A str that is not UTF-8 (an unpaired surrogate, ``"\\ud800"``) once passed the guard and then
broke every ``/metrics`` render. It is now refused at the write in strict mode and folded in
production mode, on every write path (``labels()``, the facade, the middleware), and a folded
label set keeps the labels that were allowed: only the offending ones become ``_overflow``.
Expositions are checked by prometheus_client's own text and OpenMetrics parsers, by a real
scrape through the library's server and by a real Prometheus.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om
from prometheus_client.parser import text_string_to_metric_families as parse_text

from acgs_metrics import CATALOG, GovernanceMetrics, Instruments, LabelValueError
from acgs_metrics.exposition import make_wsgi_app, render, serve_wsgi, start_http_server
from acgs_metrics.instruments import OVERFLOW_VALUE
from acgs_metrics.middleware import HttpMetrics, WSGIMetricsMiddleware
from acgs_metrics.schema import Catalog, LabelSpec, MetricSpec, MetricType
from acgs_testkit import servers
from acgs_testkit.waiting import poll

SURROGATE = "\ud800"
OPENMETRICS = "application/openmetrics-text; version=1.0.0"
OVERFLOW_COUNTER = "acgs_metrics_cardinality_overflow_total"
# An open label with a bound and no pattern: any UTF-8 value passes, as in a service's own
# catalog. The ACGS catalog's open labels all have ASCII patterns.
DEMO = MetricSpec(
    name="acgs_demo_tenant_requests_total",
    type=MetricType.COUNTER,
    help="Demo requests by tenant.",
    labels=(
        CATALOG["acgs_active_sessions"].label("service"),
        LabelSpec(name="tenant", description="tenant", max_values=1000),
    ),
    max_series=5,
)

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def instruments(registry: CollectorRegistry, *, strict: bool = False) -> Instruments:
    return Instruments(CATALOG.extended([DEMO]), registry=registry, strict=strict)


def parsed(text: str, openmetrics: bool = False) -> Samples:
    families = parse_om(text) if openmetrics else parse_text(text)  # type: ignore[no-untyped-call]
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in families
        for sample in family.samples
    }


def both_formats(registry: CollectorRegistry) -> tuple[Samples, Samples]:
    """The registry rendered and parsed back in the text and OpenMetrics formats."""
    text = render(registry)[0].decode()
    openmetrics = render(registry, OPENMETRICS)[0].decode()
    return parsed(text), parsed(openmetrics, openmetrics=True)


def key(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return name, frozenset(labels.items())


def series(registry: CollectorRegistry, name: str) -> list[dict[str, str]]:
    return [
        sample.labels for metric in registry.collect() for sample in metric.samples
        if sample.name == name
    ]  # fmt: skip


# --- the schema ----------------------------------------------------------------------------


def test_a_closed_set_with_a_value_that_is_not_utf8_fails_when_built() -> None:
    with pytest.raises(ValueError, match=r"'tenant': value '\\ud800' is not valid UTF-8"):
        LabelSpec(name="tenant", description="t", values=("a", SURROGATE))


def test_help_that_is_not_utf8_fails_when_built() -> None:
    # # HELP is exposed too; pydantic refuses such a str field itself.
    with pytest.raises(ValueError, match=r"help\n.*unable to parse raw data as a unicode"):
        MetricSpec(name="acgs_demo_total", type=MetricType.COUNTER, help=f"Demo {SURROGATE}.")


@pytest.mark.parametrize(
    "label",
    [
        LabelSpec(name="tenant", description="t", max_values=10),
        LabelSpec(name="tenant", description="t", pattern=".*", max_values=10),
    ],
    ids=["no pattern", "a pattern that matches anything"],
)
def test_an_open_label_refuses_values_that_are_not_utf8(label: LabelSpec) -> None:
    assert label.allows("tenant-é\x00\u2028")  # encodable: every format carries these
    assert not label.allows(SURROGATE)
    assert not label.allows("ok\udcff")  # os.fsdecode of a byte that is not UTF-8


# --- strict mode: refused at the write, naming the metric and the label --------------------


def test_strict_labels_refuse_a_surrogate_naming_metric_and_label() -> None:
    family = instruments(CollectorRegistry(), strict=True).counter(DEMO.name)
    expected = rf"{DEMO.name}: value '\\ud800' is not allowed for label 'tenant' \(not valid UTF-8"
    with pytest.raises(LabelValueError, match=expected):
        family.labels("gs", SURROGATE)
    with pytest.raises(LabelValueError, match=expected):
        family.labels_dict(service="gs", tenant=SURROGATE)
    assert family.series_count == 0


def test_strict_facade_refuses_a_surrogate() -> None:
    metrics = GovernanceMetrics("gs", Instruments(registry=CollectorRegistry(), strict=True))
    with pytest.raises(LabelValueError, match=r"label 'principle_id' \(not valid UTF-8"):
        metrics.set_compliance_score(f"P-{SURROGATE}", 0.5)


# --- production mode: folded, only the offending label -------------------------------------


def test_production_folds_only_the_label_that_is_not_utf8(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = CollectorRegistry()
    family = instruments(registry).counter(DEMO.name)
    family.labels("gs", "tenant-1").inc()
    with caplog.at_level(logging.WARNING, logger="acgs_metrics"):
        family.labels("gs", SURROGATE).inc()
        family.labels("gs", f"x{SURROGATE}").inc(2)
    text, openmetrics = both_formats(registry)
    for samples in (text, openmetrics):
        assert samples[key(DEMO.name, service="gs", tenant="tenant-1")] == 1
        assert samples[key(DEMO.name, service="gs", tenant=OVERFLOW_VALUE)] == 3
        assert samples[key(OVERFLOW_COUNTER, metric=DEMO.name)] == 2
    # The warning names the label, never the value (it may be anything a client sent).
    (warning,) = [r.getMessage() for r in caplog.records]
    assert "label tenant not allowed" in warning
    assert SURROGATE not in warning


# Built character by character: st.text() leaves surrogates out, whatever its alphabet.
_VALUES = st.lists(
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
    | st.characters(exclude_categories=["Cs"]),
    max_size=8,
).map("".join)


@settings(max_examples=60, deadline=None)
@given(st.lists(_VALUES, max_size=6))
def test_any_values_leave_both_formats_parseable(values: list[str]) -> None:
    registry = CollectorRegistry()
    family = instruments(registry).counter(DEMO.name)
    for value in values:
        family.labels("ec", value).inc()
    text, openmetrics = both_formats(registry)
    utf8 = {v for v in values if not any(0xD800 <= ord(c) <= 0xDFFF for c in v)}
    for samples in (text, openmetrics):
        # Bound 5: the first five UTF-8 values in order of arrival keep a series of their own.
        kept = {dict(labels)["tenant"] for name, labels in samples if name == DEMO.name}
        assert kept - {OVERFLOW_VALUE} <= utf8
        assert len(kept - {OVERFLOW_VALUE}) == min(len(utf8), 5)
        total = sum(v for (name, _), v in samples.items() if name == DEMO.name)
        assert total == len(values)


# --- the library's own HTTP server and a real Prometheus -----------------------------------


def hello(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def raw_path(path: str) -> str:
    """A route_for that gives the raw path, decoded as PEP 3333 suggests (the misuse that
    turns a request's bytes into a label value)."""
    return path.encode("latin-1").decode("utf-8", "surrogateescape")


@pytest.fixture
def service() -> Iterator[tuple[str, CollectorRegistry]]:
    """One server for a service's requests (through the RED middleware) and its /metrics."""
    registry = CollectorRegistry()
    lenient = instruments(registry)
    GovernanceMetrics("gs", lenient).count_validation("success")
    lenient.counter(DEMO.name).labels("gs", SURROGATE).inc()
    metrics_app = make_wsgi_app(registry)
    requests = WSGIMetricsMiddleware(hello, HttpMetrics("gs", raw_path, lenient))

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        routed = metrics_app if environ["PATH_INFO"] == "/metrics" else requests
        return routed(environ, start_response)

    with serve_wsgi(app) as server:
        yield server.url, registry


def test_the_server_answers_after_surrogate_writes(
    service: tuple[str, CollectorRegistry],
) -> None:
    url, _ = service
    with httpx.Client(base_url=url) as client:
        # %ED%A0%80 is "\ud800" in UTF-8 form: surrogateescape turns it into three surrogates.
        assert client.get("/items/%ED%A0%80").status_code == 200
        assert client.request("PROPFIND", "/items/1").status_code == 200
        text = client.get("/metrics")
        openmetrics = client.get("/metrics", headers={"Accept": OPENMETRICS})
    assert (text.status_code, openmetrics.status_code) == (200, 200)
    http = "acgs_http_requests_total"
    for samples in (parsed(text.text), parsed(openmetrics.text, openmetrics=True)):
        assert samples[key("acgs_constitutional_validations_total", service="gs", result="success")]
        assert samples[key(DEMO.name, service="gs", tenant=OVERFLOW_VALUE)] == 1
        # The path label folds, the method and status stay; an unknown method folds alone.
        assert samples[
            key(http, service="gs", endpoint=OVERFLOW_VALUE, method="GET", status_code="200")
        ] == 1  # fmt: skip
        assert samples[
            key(http, service="gs", endpoint="/items/1", method=OVERFLOW_VALUE, status_code="200")
        ] == 1  # fmt: skip


def test_a_real_prometheus_scrapes_it(
    service: tuple[str, CollectorRegistry], tmp_path: Path
) -> None:
    url, _ = service
    target = url.removeprefix("http://")
    config = (
        "global: {scrape_interval: 1s}\n"
        f"scrape_configs:\n  - job_name: gs\n    static_configs: [{{targets: ['{target}']}}]\n"
    )
    query = 'acgs_demo_tenant_requests_total or up{job="gs"}'
    with (
        servers.prometheus(tmp_path / "prometheus", config) as prometheus,
        prometheus.client() as c,
    ):
        result = poll(
            lambda: c.get("/api/v1/query", params={"query": query}).json()["data"]["result"],
            lambda result: len(result) == 2,
            timeout_s=30,
        )
    by_name = {series["metric"]["__name__"]: series for series in result}
    assert by_name["up"]["value"][1] == "1"
    folded = by_name[DEMO.name]["metric"]
    assert (folded["service"], folded["tenant"]) == ("gs", OVERFLOW_VALUE)


def test_samples_written_without_the_guard_are_left_out_not_the_page(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # prometheus_client used directly, beside the instruments, in the same registry.
    registry = CollectorRegistry()
    GovernanceMetrics("gs", Instruments(registry=registry)).count_validation("success")
    raw = Counter("acgs_raw_jobs", "Raw jobs.", ["queue"], registry=registry)
    raw.labels("fast").inc()
    raw.labels(SURROGATE).inc()
    Gauge("acgs_raw_level", f"Level {SURROGATE}.", registry=registry).set(4)
    with (
        caplog.at_level(logging.ERROR, logger="acgs_metrics"),
        start_http_server(0, registry=registry) as server,
    ):
        responses = [
            httpx.get(f"{server.url}/metrics", headers=headers)
            for headers in ({}, {"Accept": OPENMETRICS}, {})
        ]
    assert [r.status_code for r in responses] == [200, 200, 200]
    for samples in (parsed(responses[0].text), parsed(responses[1].text, openmetrics=True)):
        assert samples[key("acgs_constitutional_validations_total", service="gs", result="success")]
        assert samples[key("acgs_raw_jobs_total", queue="fast")] == 1
        assert [k for k in samples if k[0] == "acgs_raw_jobs_total"] == [
            key("acgs_raw_jobs_total", queue="fast")
        ]
        assert samples[key("acgs_raw_level")] == 4  # its help is dropped, not its value
    # One line per metric, however many scrapes.
    assert sorted(r.getMessage()[:17] for r in caplog.records) == [
        "'acgs_raw_jobs': ",
        "'acgs_raw_level':",
    ]


# --- what keeping the allowed labels costs: still bounded ----------------------------------


def test_folded_label_sets_are_bounded_and_never_crowd_out_good_ones() -> None:
    registry = CollectorRegistry()
    family = instruments(registry).counter(DEMO.name)  # series bound 5
    family.labels("gs", "first").inc()
    # 1,000 label sets, each with a service the catalog does not know and a fresh tenant:
    # the tenant is allowed, so it is kept, but only 5 such folded sets get a series.
    for i in range(1000):
        family.labels("nope", f"t{i}").inc()
    folded = [s for s in series(registry, DEMO.name) if s["service"] == OVERFLOW_VALUE]
    assert len(folded) == 5 + 1  # five folded sets, then the one with every label _overflow
    everything = {"service": OVERFLOW_VALUE, "tenant": OVERFLOW_VALUE}
    assert registry.get_sample_value(DEMO.name, everything) == 995
    assert registry.get_sample_value(OVERFLOW_COUNTER, {"metric": DEMO.name}) == 1000
    # The folded sets took none of the metric's own places: four are still free.
    for tenant in ("a", "b", "c", "d"):
        family.labels("ac", tenant).inc()
    assert family.series_count == 5
    assert len(series(registry, DEMO.name)) <= 2 * DEMO.series_bound + 1


def test_past_the_bound_the_open_labels_fold_and_the_closed_ones_stay() -> None:
    registry = CollectorRegistry()
    family = instruments(registry).counter(DEMO.name)
    for i in range(5):
        family.labels("gs", f"t{i}").inc()
    for service in ("ac", "fv", "ac"):
        family.labels(service, "one-too-many").inc()
    assert registry.get_sample_value(DEMO.name, {"service": "ac", "tenant": OVERFLOW_VALUE}) == 2
    assert registry.get_sample_value(DEMO.name, {"service": "fv", "tenant": OVERFLOW_VALUE}) == 1


def test_bad_requests_cannot_grow_the_http_metrics_past_their_bounds() -> None:
    bounded = {"acgs_http_requests_total": 10, "acgs_http_request_duration_seconds": 10}
    catalog = Catalog(
        metrics=tuple(
            spec.model_copy(update={"max_series": bounded[spec.name]})
            if spec.name in bounded
            else spec
            for spec in CATALOG
        )
    )
    registry = CollectorRegistry()
    app = WSGIMetricsMiddleware(hello, HttpMetrics("pgc", raw_path, Instruments(catalog, registry)))
    for i in range(300):  # a fresh raw path and an unknown method on every request
        environ = {"PATH_INFO": f"/items/{i}", "REQUEST_METHOD": f"M{i % 7}"}
        body = app(environ, lambda status, headers, exc_info=None: None)  # type: ignore[arg-type]
        list(body)
        body.close()  # type: ignore[attr-defined]
    requests = series(registry, "acgs_http_requests_total")
    durations = series(registry, "acgs_http_request_duration_seconds_count")
    assert len(requests) <= 2 * 10 + 1
    assert len(durations) <= 2 * 10 + 1
    assert {s["service"] for s in requests} == {"pgc", OVERFLOW_VALUE}
    assert (
        sum(registry.get_sample_value("acgs_http_requests_total", s) or 0 for s in requests) == 300
    )
