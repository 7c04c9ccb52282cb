"""The fast renderer writes exactly prometheus_client's bytes: text 0.0.4 and OpenMetrics, every
escaping scheme, random label sets (escaping included), every metric kind, custom collectors,
exemplars, and multiprocess files written by real worker processes."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Enum,
    Gauge,
    Histogram,
    Info,
    Summary,
    generate_latest,
)
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.openmetrics import exposition as om

from acgs_metrics import multiprocess, rendering
from acgs_metrics.exposition import render
from acgs_metrics.multiprocess import MultiprocessFiles
from acgs_metrics.rendering import Renderer, choose_renderer

ESCAPINGS = [om.UNDERSCORES, om.ALLOWUTF8, om.DOTS, om.VALUES]
# Label values with everything that needs escaping, and text that needs none.
VALUES = st.text(
    alphabet=st.sampled_from(
        ["a", "Z", "0", " ", '"', "\\", "\n", "{", "}", ",", "=", "é", "😀", "."]
    ),
    max_size=12,
)
FLOATS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=0, max_value=10**18).map(float),
    st.sampled_from([0.0, 1e-9, 123456789.0, 1e21, -0.0]),
)


def same_bytes(registry: CollectorRegistry, escaping: str = om.UNDERSCORES) -> None:
    for openmetrics in (False, True):
        ours = Renderer(openmetrics, escaping)
        assert ours(registry) == ours.reference()(registry), (openmetrics, escaping)
        # a second render comes from the cached prefixes
        assert ours(registry) == ours.reference()(registry), (openmetrics, escaping)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(st.tuples(VALUES, VALUES, FLOATS), min_size=0, max_size=25),
    escaping=st.sampled_from(ESCAPINGS),
)
def test_random_label_sets_render_the_same_bytes(
    rows: list[tuple[str, str, float]], escaping: str
) -> None:
    registry = CollectorRegistry()
    counter = Counter(
        "acgs_demo_requests", "Requests with \\ and\nnewline.", ["svc", "path"], registry=registry
    )
    gauge = Gauge("acgs_demo_level", 'A "level".', ["svc", "path"], registry=registry)
    histogram = Histogram("acgs_demo_latency_seconds", "Latency.", ["svc"], registry=registry)
    summary = Summary("acgs_demo_size_bytes", "Size.", ["svc"], unit="bytes", registry=registry)
    for svc, path, value in rows:
        if not math.isnan(value) and value >= 0:
            counter.labels(svc, path).inc(min(value, 1e300))
        gauge.labels(svc, path).set(value)
        if math.isfinite(value):
            histogram.labels(svc).observe(value)
            summary.labels(svc).observe(value)
    same_bytes(registry, escaping)


def test_every_metric_kind_and_unlabelled_metrics() -> None:
    registry = CollectorRegistry(target_info={"service": "auth", "version": "1.2"})
    Counter("plain_events", "No labels.", registry=registry).inc(3)
    Gauge("plain_temperature", "No labels.", unit="celsius", registry=registry).set(-2.5)
    Histogram("plain_wait_seconds", "No labels.", buckets=(0.1, 1, 10), registry=registry).observe(
        2
    )
    Info("build", "Build facts.", ["svc"], registry=registry).labels("auth").info({"rev": 'a"b'})
    state = Enum("mode", "Mode.", states=["on", "off"], registry=registry)
    state.state("off")
    fn = Gauge("callback_level", "From a function.", registry=registry)
    fn.set_function(lambda: 7)
    same_bytes(registry)


def test_custom_collectors_with_any_names_and_timestamps() -> None:
    class Odd:
        def collect(self) -> Iterable[Metric]:
            family = GaugeMetricFamily("odd.name-with:chars", "Odd.", labels=["lé", "ok"])
            family.add_metric(["x", 'y"\\'], 1.5, timestamp=1700000000.123)
            family.add_metric(["", ""], float("nan"))
            yield family
            created = Metric("events", "Events.", "counter")
            created.add_sample("events_total", {}, 4)
            created.add_sample("events_created", {}, 1700000000.5)
            yield created

    registry = CollectorRegistry()
    registry.register(Odd())
    for escaping in ESCAPINGS:
        same_bytes(registry, escaping)


def test_exemplars_in_openmetrics_are_left_to_prometheus_client() -> None:
    registry = CollectorRegistry()
    counter = Counter("acgs_demo_traced", "Traced.", ["svc"], registry=registry)
    counter.labels("auth").inc(1, exemplar={"trace_id": "abc"})
    counter.labels("pgc").inc(2)
    same_bytes(registry)
    body, _ = render(registry, "application/openmetrics-text; version=1.0.0")
    assert b'# {trace_id="abc"} 1.0' in body


def test_negotiation_matches_prometheus_client() -> None:
    scrape = (
        "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
        "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
    )
    renderer, content_type = choose_renderer(scrape)
    assert renderer.openmetrics
    assert content_type.startswith("application/openmetrics-text")
    renderer, content_type = choose_renderer("")
    assert not renderer.openmetrics
    assert content_type.startswith("text/plain; version=0.0.4")
    renderer, _ = choose_renderer("text/plain;version=1.0.0;escaping=dots")
    assert renderer.escaping == om.DOTS
    assert choose_renderer("")[0] is choose_renderer("text/plain")[0]  # one cache per format


def test_label_churn_past_the_cache_bound_stays_correct(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rendering, "MAX_CACHED_PREFIXES", 10)
    registry = CollectorRegistry()
    counter = Counter("acgs_demo_churn", "Churn.", ["id"], registry=registry)
    ours = Renderer(openmetrics=False)
    for round_ in range(5):
        for index in range(30):
            counter.labels(f"{round_}-{index}").inc()
        assert ours(registry) == generate_latest(registry)
        assert len(ours._prefixes) <= 10
        counter.clear()


WORKER = r"""
import json, os, random, sys
from prometheus_client import Counter, Gauge, Histogram, Summary
seed, spec = int(sys.argv[1]), json.loads(sys.argv[2])
rng = random.Random(seed)
requests = Counter("acgs_w_requests", "Requests.", ["svc", "path"])
latency = Histogram("acgs_w_latency_seconds", "Latency.", ["svc"])
size = Summary("acgs_w_size_bytes", "Size.", ["svc"])
gauges = [
    Gauge(f"acgs_w_{mode}", "Gauge.", ["svc"], multiprocess_mode=mode) for mode in spec["modes"]
]
for _ in range(spec["samples"]):
    svc = rng.choice(spec["services"])
    requests.labels(svc, rng.choice(["/", "/x", "/é"])).inc(rng.random() * 10)
    latency.labels(svc).observe(rng.random() * 3)
    size.labels(svc).observe(rng.random() * 1000)
    for gauge in gauges:
        gauge.labels(svc).set(rng.uniform(-5, 5))
print(os.getpid())
"""


SERVICES = ["auth", 'a"c', "fv\\n\n", "pgc"]


def test_multiprocess_files_merge_to_the_same_bytes(tmp_path: Path) -> None:
    """Real worker processes write the files; every gauge mode, a dead worker, histograms."""
    directory = tmp_path / "multiproc"
    directory.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    modes = [
        "all",
        "liveall",
        "min",
        "max",
        "sum",
        "livesum",
        "mostrecent",
        "livemostrecent",
        "livemin",
        "livemax",
    ]
    pids = []
    for seed in range(4):
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                WORKER,
                str(seed),
                json.dumps({"modes": modes, "samples": 40, "services": SERVICES}),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        pids.append(int(done.stdout.split()[-1]))
    # a dead worker: its live* gauges go
    mark_process_dead(pids[0], str(directory))  # type: ignore[no-untyped-call]
    reference = CollectorRegistry()
    MultiProcessCollector(reference, path=str(directory))  # type: ignore[no-untyped-call]
    ours = CollectorRegistry()
    ours.register(MultiprocessFiles(str(directory)))
    for openmetrics in (False, True):
        renderer = Renderer(openmetrics)
        expected = renderer.reference()(reference)
        assert renderer(ours) == expected
        assert renderer.reference()(ours) == expected  # its collect() agrees too
    assert b"acgs_w_livemostrecent" in expected
    assert b'pid="' in expected


def test_scrape_registry_uses_the_fast_merge(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    registry = multiprocess.scrape_registry(CollectorRegistry())
    assert [type(c) for c in registry._collector_to_names] == [MultiprocessFiles]


@given(FLOATS)
def test_go_float_is_prometheus_clients_float_format(value: float) -> None:
    from prometheus_client.utils import floatToGoString

    assert rendering.go_float(value) == floatToGoString(value)  # type: ignore[no-untyped-call]
    if math.isfinite(value):  # values may be ints too (a callback gauge)
        whole = int(value)
        assert rendering.go_float(whole) == floatToGoString(whole)  # type: ignore[no-untyped-call]
