"""Multiprocess mode with real worker processes: one exposition aggregates them all.

Each worker is a fresh Python process with ``PROMETHEUS_MULTIPROC_DIR`` set before
prometheus_client is imported (as gunicorn or uvicorn workers would have it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from acgs_metrics.exposition import start_http_server
from acgs_metrics.multiprocess import mark_process_dead
from acgs_testkit.waiting import stop_process

WORKER = r"""
import json, os, sys
print(os.getpid(), flush=True)
from acgs_metrics import GovernanceMetrics, Instruments
from acgs_metrics.exposition import start_http_server

metrics = GovernanceMetrics(sys.argv[1])
for action, *args in json.loads(sys.argv[2]):
    if action == "validate":
        for _ in range(args[0]):
            metrics.count_validation("success")
    elif action == "synthesis":
        metrics.record_synthesis("constitutional", args[0], "success")
    elif action == "score":
        metrics.set_compliance_score("P-001", args[0])
    elif action == "in_flight":
        child = metrics.instruments.gauge("acgs_http_requests_in_flight").labels(sys.argv[1])
        for _ in range(args[0]):
            child.inc()
    elif action == "tenant":  # a service's own metric, with an open label and no pattern
        from acgs_metrics import CATALOG, LabelSpec, MetricSpec, MetricType
        tenant = LabelSpec(name="tenant", description="tenant", max_values=10)
        own = MetricSpec(
            name="acgs_demo_tenant_requests_total", type=MetricType.COUNTER, help="Demo.",
            labels=(CATALOG["acgs_active_sessions"].label("service"), tenant),
        )
        Instruments(CATALOG.extended([own])).counter(own.name).labels(sys.argv[1], args[0]).inc()
    elif action == "raw":  # prometheus_client directly, without the guard
        from prometheus_client import Counter
        raw = Counter("acgs_raw_jobs", "Raw jobs.", ["queue"])
        for queue in args[0]:
            raw.labels(queue).inc()
    elif action == "serve":
        server = start_http_server(0)
        print(server.port, flush=True)
if "--hold" in sys.argv:
    print("ready", flush=True)
    sys.stdin.read()  # stay alive until the test closes stdin
"""


class Workers:
    """Starts worker processes in one multiprocess directory; stops them all at the end."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.held: list[subprocess.Popen[str]] = []
        self.env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}

    def run(self, service: str, *actions: list[object]) -> int:
        """Run a worker to completion and mark it dead, as a process manager would; its pid."""
        done = subprocess.run(
            [sys.executable, "-c", WORKER, service, json.dumps(actions)],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        pid = int(done.stdout.split()[0])
        mark_process_dead(pid)
        return pid

    def hold(self, service: str, *actions: list[object]) -> tuple[subprocess.Popen[str], str]:
        """Start a worker that stays alive; returns it and its first output line."""
        proc = subprocess.Popen(
            [sys.executable, "-c", WORKER, service, json.dumps(actions), "--hold"],
            env=self.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.held.append(proc)
        assert proc.stdout is not None
        assert int(proc.stdout.readline()) == proc.pid
        return proc, proc.stdout.readline().strip()

    def stop(self, proc: subprocess.Popen[str]) -> None:
        if proc.poll() is None:
            assert proc.stdin is not None
            proc.stdin.close()
            try:
                proc.wait(timeout=10)  # a held worker exits at the end of its input
            except subprocess.TimeoutExpired:
                stop_process(proc)

    def stop_all(self) -> None:
        for proc in self.held:
            self.stop(proc)


@pytest.fixture
def workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workers]:
    directory = tmp_path / "multiproc"
    directory.mkdir()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))
    pool = Workers(directory)
    try:
        yield pool
    finally:
        pool.stop_all()


def scrape(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def test_counters_histograms_and_gauges_aggregate_across_workers(workers: Workers) -> None:
    # Both workers have exited (and been marked dead): their counts still add up.
    workers.run("gs", ["validate", 3], ["synthesis", 0.3], ["score", 0.5])
    workers.run("gs", ["validate", 4], ["synthesis", 7.0], ["score", 0.9])
    # The exposition runs here, in a process that recorded nothing itself.
    with start_http_server(0, registry=CollectorRegistry()) as server:
        samples = scrape(server.url)
        text = httpx.get(f"{server.url}/metrics").content
    # The aggregate is valid exposition too.
    lint = subprocess.run(
        ["promtool", "check", "metrics"], input=text, capture_output=True, timeout=60, check=False
    )
    assert (lint.returncode, lint.stdout + lint.stderr) == (0, b"")
    assert (
        value(samples, "acgs_constitutional_validations_total", service="gs", result="success") == 7
    )
    synthesis = {"service": "gs", "synthesis_type": "constitutional"}
    assert value(samples, "acgs_policy_synthesis_duration_seconds_count", **synthesis) == 2
    assert value(
        samples, "acgs_policy_synthesis_duration_seconds_sum", **synthesis
    ) == pytest.approx(7.3)
    assert (
        value(samples, "acgs_policy_synthesis_duration_seconds_bucket", le="0.5", **synthesis) == 1
    )
    assert (
        value(samples, "acgs_policy_synthesis_duration_seconds_bucket", le="10.0", **synthesis) == 2
    )
    # mostrecent: the score the second worker set last, one series (no pid label).
    scores = [k for k in samples if k[0] == "acgs_constitutional_compliance_score"]
    assert len(scores) == 1
    assert (
        value(samples, "acgs_constitutional_compliance_score", service="gs", principle_id="P-001")
        == 0.9
    )


def test_mostrecent_follows_the_latest_set_by_any_worker(workers: Workers) -> None:
    workers.run("ac", ["score", 0.4])
    _live, line = workers.hold("ac", ["score", 0.6])
    assert line == "ready"
    with start_http_server(0, registry=CollectorRegistry()) as server:
        assert (
            value(
                scrape(server.url),
                "acgs_constitutional_compliance_score",
                service="ac",
                principle_id="P-001",
            )
            == 0.6
        )
        workers.run("ac", ["score", 0.2])
        assert (
            value(
                scrape(server.url),
                "acgs_constitutional_compliance_score",
                service="ac",
                principle_id="P-001",
            )
            == 0.2
        )


def test_livesum_gauge_drops_a_dead_worker(workers: Workers) -> None:
    alive, _ = workers.hold("pgc", ["in_flight", 2])
    leaving, _ = workers.hold("pgc", ["in_flight", 3])
    with start_http_server(0, registry=CollectorRegistry()) as server:
        assert value(scrape(server.url), "acgs_http_requests_in_flight", service="pgc") == 5
        workers.stop(leaving)
        mark_process_dead(leaving.pid)
        assert value(scrape(server.url), "acgs_http_requests_in_flight", service="pgc") == 2
        workers.stop(alive)


def test_any_worker_answers_for_all(workers: Workers) -> None:
    # Two workers each serve /metrics themselves; either one reports both workers' counts.
    _a, port_a = workers.hold("fv", ["validate", 5], ["serve"])
    _b, port_b = workers.hold("fv", ["validate", 6], ["serve"])
    for port in (port_a, port_b):
        samples = scrape(f"http://127.0.0.1:{port}")
        assert (
            value(samples, "acgs_constitutional_validations_total", service="fv", result="success")
            == 11
        )


def test_a_surrogate_from_one_worker_never_breaks_the_scrape(workers: Workers) -> None:
    # In multiprocess mode a written label set lives on in the worker's file until the
    # directory is emptied: had "\ud800" got through, every scrape of every worker would
    # fail until the next deploy. The guard folds it before anything is written; a value
    # written without the guard is left out of the page, alone.
    workers.run("gs", ["validate", 2])
    workers.run("gs", ["tenant", "\ud800"], ["tenant", "acme"])
    workers.run("gs", ["raw", ["\ud800", "fast"]])
    with start_http_server(0, registry=CollectorRegistry()) as server:
        response = httpx.get(f"{server.url}/metrics", timeout=10)
        assert response.status_code == 200, response.text
        samples = scrape(server.url)
    lint = subprocess.run(
        ["promtool", "check", "metrics"],
        input=response.content,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert (lint.returncode, lint.stdout + lint.stderr) == (0, b"")
    demo = "acgs_demo_tenant_requests_total"
    assert value(samples, demo, service="gs", tenant="_overflow") == 1
    assert value(samples, demo, service="gs", tenant="acme") == 1
    assert [k for k in samples if k[0] == "acgs_raw_jobs_total"] == [
        ("acgs_raw_jobs_total", frozenset({("queue", "fast")}))
    ]
    assert (
        value(samples, "acgs_constitutional_validations_total", service="gs", result="success") == 2
    )


def test_mark_process_dead_needs_a_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    with pytest.raises(RuntimeError, match="set PROMETHEUS_MULTIPROC_DIR"):
        mark_process_dead(12345)


def test_a_missing_multiprocess_dir_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "absent"))
    with pytest.raises(ValueError, match=r"absent is not a directory: create it"):
        start_http_server(0, registry=CollectorRegistry())
