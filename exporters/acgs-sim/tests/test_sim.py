"""The real ``acgs-sim`` on free ports: every service's metrics, each fault's effect, promtool.

One simulator runs for the whole module; each fault test uses a different service, so they
do not disturb each other.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from acgs_metrics import CATALOG, SERVICE_NAMES, MetricSpec
from acgs_sim.behaviour import HTTP_METRICS, behaviour_for
from acgs_testkit.sim import Sample, SimProcess, free_base_port, parse_metrics
from acgs_testkit.waiting import wait_for

SERIES = CATALOG.by_series_name()


def spec_of(sample_name: str) -> MetricSpec:
    """The catalog metric a sample belongs to; KeyError if none."""
    return SERIES[sample_name]


@pytest.fixture(scope="module")
def sim() -> Iterator[SimProcess]:
    process = SimProcess(free_base_port(), "--seed", "7")
    try:
        process.start()
        yield process
    finally:
        if process.process is not None:
            process.terminate()


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0) as client:
        yield client


def scrape(client: httpx.Client, sim: SimProcess, service: str) -> list[Sample]:
    response = client.get(f"{sim.url(service)}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return parse_metrics(response.text)


def values(samples: list[Sample], name: str, **labels: str) -> list[float]:
    return [
        s.value
        for s in samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    ]


def total(samples: list[Sample], name: str, **labels: str) -> float:
    return sum(values(samples, name, **labels))


def inject(
    client: httpx.Client, sim: SimProcess, service: str, **body: object
) -> dict[str, object]:
    response = client.post(f"{sim.url(service)}/control/faults", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def clear(client: httpx.Client, sim: SimProcess, service: str) -> None:
    assert client.delete(f"{sim.url(service)}/control/faults").status_code == 200


# --- every catalog metric, per service ------------------------------------------------


def test_services_cover_the_whole_catalog() -> None:
    emitted = {name for s in SERVICE_NAMES for name in behaviour_for(s).metrics}
    emitted |= set(HTTP_METRICS)
    # The overflow counter is the library's own health, not a service's.
    expected = {spec.name for spec in CATALOG} - {"acgs_metrics_cardinality_overflow_total"}
    assert emitted == expected


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_service_exposes_its_metrics_with_sane_values(
    sim: SimProcess, client: httpx.Client, service: str
) -> None:
    relevant = set(behaviour_for(service).metrics) | set(HTTP_METRICS)

    def every_metric_has_data() -> bool:
        samples = scrape(client, sim, service)
        seen = {spec_of(s.name).name for s in samples}
        has_traffic = {
            spec_of(s.name).name
            for s in samples
            if spec_of(s.name).type == "gauge"
            or (s.name.endswith(("_total", "_count")) and s.value > 0)
        }
        return relevant <= seen and relevant <= has_traffic

    wait_for(every_metric_has_data, timeout_s=30, what=f"every {service} metric to move")
    samples = scrape(client, sim, service)
    names = {spec_of(s.name).name for s in samples}
    assert names == relevant, f"{service} exposes metrics that are not its own"
    for sample in samples:
        assert sample.labels.get("service", service) == service, sample
        assert sample.value >= 0, sample
        spec = spec_of(sample.name)
        if spec.value_range is not None:
            low, high = spec.value_range
            assert low <= sample.value <= high, sample
    # Endpoints are route templates, never raw paths with ids in them.
    endpoints = {s.labels["endpoint"] for s in samples if "endpoint" in s.labels}
    templates = {route.template for route in behaviour_for(service).routes}
    assert endpoints <= templates | {"/metrics", "/health", "/control/faults", "/other"}
    assert total(samples, "acgs_http_requests_total") > 0


def test_gauges_have_realistic_values(sim: SimProcess, client: httpx.Client) -> None:
    for service in ("ac", "gs", "pgc"):
        scores = values(scrape(client, sim, service), "acgs_constitutional_compliance_score")
        assert len(scores) == 7
        assert all(0.85 <= score <= 1.0 for score in scores), scores
    costs = values(scrape(client, sim, "pgc"), "acgs_governance_action_cost_sol")
    assert costs
    assert all(0 < cost < 1.0 for cost in costs), costs
    sessions = values(scrape(client, sim, "auth"), "acgs_active_sessions")
    assert 40 <= sessions[0] <= 250
    fitness = values(scrape(client, sim, "ec"), "acgs_evolution_fitness_ratio")
    assert 0.3 <= fitness[0] <= 1.0


def test_values_change_between_ticks(sim: SimProcess, client: httpx.Client) -> None:
    before = values(scrape(client, sim, "ac"), "acgs_constitutional_compliance_score")
    requests_before = total(scrape(client, sim, "integrity"), "acgs_hash_validations_total")
    time.sleep(2.5)
    after = values(scrape(client, sim, "ac"), "acgs_constitutional_compliance_score")
    assert before != after
    assert total(scrape(client, sim, "integrity"), "acgs_hash_validations_total") > requests_before


def test_promtool_accepts_the_exposition(sim: SimProcess, client: httpx.Client) -> None:
    for service in ("gs", "auth"):
        body = client.get(f"{sim.url(service)}/metrics").text
        result = subprocess.run(
            ["promtool", "check", "metrics"], input=body, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_metrics_negotiates_format_and_gzip(sim: SimProcess, client: httpx.Client) -> None:
    url = f"{sim.url('ec')}/metrics"
    zipped = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert "acgs_evolution_fitness_ratio" in zipped.text  # httpx unzips it
    openmetrics = client.get(url, headers={"Accept": "application/openmetrics-text"})
    assert openmetrics.headers["content-type"].startswith("application/openmetrics-text")
    assert openmetrics.text.rstrip().endswith("# EOF")
    assert client.post(url).status_code == 405


def test_api_routes_answer_over_http(sim: SimProcess, client: httpx.Client) -> None:
    before = total(
        scrape(client, sim, "gs"),
        "acgs_http_requests_total",
        endpoint="/policies/{policy_id}",
        method="GET",
        status_code="200",
    )
    for policy in range(3):
        assert client.get(f"{sim.url('gs')}/policies/policy-{policy}").status_code == 200
    assert client.get(f"{sim.url('gs')}/no/such/thing").status_code == 404
    assert client.delete(f"{sim.url('gs')}/policies").status_code == 405
    after = scrape(client, sim, "gs")
    got = total(
        after,
        "acgs_http_requests_total",
        endpoint="/policies/{policy_id}",
        method="GET",
        status_code="200",
    )
    assert got >= before + 3
    assert total(after, "acgs_http_requests_total", endpoint="/other", status_code="404") >= 1


# --- faults ---------------------------------------------------------------------------


def test_compliance_drop(sim: SimProcess, client: httpx.Client) -> None:
    try:
        inject(client, sim, "ac", fault="compliance_drop", value=0.4)
        wait_for(
            lambda: (
                set(values(scrape(client, sim, "ac"), "acgs_constitutional_compliance_score"))
                == {0.4}
            ),
            timeout_s=5,
            what="every ac principle at 0.4",
        )
    finally:
        clear(client, sim, "ac")
    wait_for(
        lambda: (
            min(values(scrape(client, sim, "ac"), "acgs_constitutional_compliance_score")) > 0.6
        ),
        timeout_s=15,
        what="ac scores to recover",
    )


def test_compliance_drop_default_value(sim: SimProcess, client: httpx.Client) -> None:
    try:
        assert inject(client, sim, "pgc", fault="compliance_drop")["value"] == 0.5
        wait_for(
            lambda: (
                set(values(scrape(client, sim, "pgc"), "acgs_constitutional_compliance_score"))
                == {0.5}
            ),
            timeout_s=5,
            what="every pgc principle at 0.5",
        )
    finally:
        clear(client, sim, "pgc")


def test_error_rate(sim: SimProcess, client: httpx.Client) -> None:
    url = sim.url("integrity")
    try:
        inject(client, sim, "integrity", fault="error_rate", value=1.0)
        # Every API request now fails, over real HTTP too; /metrics and /health still work.
        statuses = {client.post(f"{url}/records").status_code for _ in range(5)}
        assert statuses <= {500, 502, 503}
        assert client.get(f"{url}/health").status_code == 200
        before = scrape(client, sim, "integrity")
        time.sleep(1.5)
        after = scrape(client, sim, "integrity")
    finally:
        clear(client, sim, "integrity")

    def errors(samples: list[Sample]) -> float:
        return sum(
            s.value
            for s in samples
            if s.name == "acgs_http_requests_total" and s.labels["status_code"].startswith("5")
        )

    def api_successes(samples: list[Sample]) -> float:
        return sum(
            s.value
            for s in samples
            if s.name == "acgs_http_requests_total"
            and s.labels["endpoint"].startswith("/records")
            and s.labels["status_code"].startswith("2")
        )

    assert errors(after) > errors(before)
    assert api_successes(after) == api_successes(before)
    assert client.post(f"{url}/records").status_code == 201


def test_slow_synthesis(sim: SimProcess, client: httpx.Client) -> None:
    name = "acgs_policy_synthesis_duration_seconds"
    try:
        inject(client, sim, "gs", fault="slow_synthesis", value=12)
        before = scrape(client, sim, "gs")

        def enough() -> bool:
            return (
                total(scrape(client, sim, "gs"), f"{name}_count")
                >= total(before, f"{name}_count") + 3
            )

        wait_for(enough, timeout_s=15, what="three slow syntheses")
        after = scrape(client, sim, "gs")
    finally:
        clear(client, sim, "gs")
    count = total(after, f"{name}_count") - total(before, f"{name}_count")
    seconds = total(after, f"{name}_sum") - total(before, f"{name}_sum")
    assert 12 * 0.9 <= seconds / count <= 12 * 1.1
    # The slow ones land above the 10 s bucket.
    slow = total(after, f"{name}_bucket", le="+Inf") - total(after, f"{name}_bucket", le="10.0")
    assert slow >= count


def test_cost_spike(sim: SimProcess, client: httpx.Client) -> None:
    try:
        inject(client, sim, "pgc", fault="cost_spike", value=20)
        wait_for(
            lambda: (
                max(values(scrape(client, sim, "pgc"), "acgs_governance_action_cost_sol")) > 0.02
            ),
            timeout_s=10,
            what="a pgc action cost above 0.02 SOL",
        )
    finally:
        clear(client, sim, "pgc")


def test_unresponsive(sim: SimProcess, client: httpx.Client) -> None:
    url = sim.url("ec")
    try:
        inject(client, sim, "ec", fault="unresponsive")
        started = time.monotonic()
        with pytest.raises(httpx.TimeoutException):
            client.get(f"{url}/metrics", timeout=1.5)
        with pytest.raises(httpx.TimeoutException):
            client.get(f"{url}/health", timeout=1.5)
        assert time.monotonic() - started >= 3
        # The control endpoint still answers, so the fault can be cleared.
        listed = client.get(f"{url}/control/faults").json()
        assert [fault["fault"] for fault in listed] == ["unresponsive"]
    finally:
        clear(client, sim, "ec")
    assert client.get(f"{url}/metrics", timeout=2).status_code == 200


def test_unresponsive_holds_a_request_until_cleared(sim: SimProcess, client: httpx.Client) -> None:
    url = sim.url("fv")
    inject(client, sim, "fv", fault="unresponsive", value=20)
    try:
        with httpx.Client(timeout=30) as other:
            started = time.monotonic()
            clearer = threading.Timer(1.0, lambda: clear(client, sim, "fv"))
            clearer.start()
            response = other.get(f"{url}/health")
            clearer.join()
        held = time.monotonic() - started
    finally:
        clear(client, sim, "fv")
    assert response.status_code == 200
    assert 0.9 <= held < 10


def test_fault_expires_after_its_duration(sim: SimProcess, client: httpx.Client) -> None:
    url = sim.url("fv")
    fault = inject(client, sim, "fv", fault="error_rate", value=0.5, duration_s=1)
    assert fault["duration_s"] == 1
    assert [f["fault"] for f in client.get(f"{url}/control/faults").json()] == ["error_rate"]
    time.sleep(1.3)
    assert client.get(f"{url}/control/faults").json() == []


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"fault": "meltdown"}, 400, "is not a fault; known: compliance_drop"),
        ({"fault": "error_rate", "value": 2}, 400, "between 0 and 1"),
        ({"fault": "error_rate", "value": "high"}, 400, "expected a number"),
        ({"fault": "error_rate", "duration_s": -1}, 400, "duration_s"),
        ({"fault": "error_rate", "severity": 1}, 400, "unknown field(s) severity"),
        (["error_rate"], 400, "send a JSON object"),
        ({"fault": "cost_spike"}, 409, "faults for auth: error_rate, unresponsive"),
    ],
)
def test_bad_fault_requests_are_refused(
    sim: SimProcess, client: httpx.Client, body: object, status: int, message: str
) -> None:
    response = client.post(f"{sim.url('auth')}/control/faults", json=body)
    assert response.status_code == status
    assert message in response.json()["error"]
    assert client.get(f"{sim.url('auth')}/control/faults").json() == []


def test_non_json_fault_request(sim: SimProcess, client: httpx.Client) -> None:
    response = client.post(f"{sim.url('auth')}/control/faults", content=b"{nope")
    assert response.status_code == 400
    assert "not JSON" in response.json()["error"]
