"""Fixtures: built dashboards, and a real Prometheus scraping data for every catalog metric.

The live stack is real binaries on free loopback ports with temporary directories:
``/usr/bin/prometheus`` (scraping every second, with a rule file and an Alertmanager so
rule and notification metrics exist), ``prometheus-alertmanager``,
``prometheus-node-exporter``, and seven small exporters (one per ACGS service, job
``acgs-<service>``) fed through ``acgs_metrics.Instruments`` with values for every catalog
metric. Everything started is stopped in ``finally``.
"""

from __future__ import annotations

import itertools
import random
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry, start_http_server

from acgs_dashboards.build import build_all
from acgs_metrics import CATALOG, SERVICE_NAMES, Instruments, MetricType

REPO = Path(__file__).resolve().parents[3]
# Example values for labels the catalog bounds by a pattern rather than a list.
PATTERN_EXAMPLES = {
    "endpoint": ("/api/v1/policies", "/health"),
    "status_code": ("200", "500"),
    "principle_id": ("P1", "P2"),
    "metric": ("acgs_http_requests_total",),
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository's dashboards built once for the session."""
    out = tmp_path_factory.mktemp("built")
    build_all(out, source_dir=REPO / "dashboards")
    return out


def _label_sets(service: str, spec_labels: Any) -> list[tuple[str, ...]]:
    choices = []
    for label in spec_labels:
        if label.name == "service":
            choices.append((service,))
        elif label.values is not None:
            choices.append(label.values[:4])
        else:
            choices.append(PATTERN_EXAMPLES[label.name])
    return list(itertools.product(*choices))


class _Feeder:
    """Moves every catalog metric of one service a little, every 200 ms."""

    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry()
        self.instruments = Instruments(registry=self.registry, strict=True)
        self.service = service
        self.random = random.Random(service)  # noqa: S311 (test data, not secrets)
        self.instruments.register_all()
        self.instruments.count_overflow("acgs_http_requests_total")

    def tick(self) -> None:
        for spec in CATALOG:
            if spec.name == "acgs_metrics_cardinality_overflow_total":
                self.instruments.count_overflow("acgs_http_requests_total")
                continue
            for values in _label_sets(self.service, spec.labels):
                if spec.type is MetricType.COUNTER:
                    self.instruments.counter(spec.name).labels(*values).inc(
                        self.random.randint(1, 5)
                    )
                elif spec.type is MetricType.GAUGE:
                    low, high = spec.value_range or (0.0, 10.0)
                    value = self.random.uniform(low, high)
                    self.instruments.gauge(spec.name).labels(*values).set(value)
                else:
                    assert spec.buckets is not None
                    value = self.random.uniform(0, spec.buckets[-1])
                    self.instruments.histogram(spec.name).labels(*values).observe(value)


@dataclass
class LiveStack:
    url: str
    services: tuple[str, ...]

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10)

    def wait_for(self, query: str, timeout_s: float = 30) -> None:
        """Until ``query`` has a result: the scrapes have landed."""
        deadline = time.monotonic() + timeout_s
        with self.client() as client:
            while time.monotonic() < deadline:
                body = client.get("/api/v1/query", params={"query": query}).json()
                if body["status"] == "success" and body["data"]["result"]:
                    return
                time.sleep(0.3)
        raise AssertionError(f"Prometheus never returned data for {query}")


def _wait_http(url: str, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not answer at {url}")


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    for binary in ("prometheus", "prometheus-node-exporter", "prometheus-alertmanager"):
        if shutil.which(binary) is None:
            pytest.fail(f"{binary} is missing: run `invoke install-deps`")
    state = tmp_path_factory.mktemp("live")
    processes: list[subprocess.Popen[bytes]] = []
    servers: list[Any] = []
    stop = threading.Event()
    try:
        feeders = [_Feeder(service) for service in SERVICE_NAMES]
        jobs = []
        for feeder in feeders:
            port = free_port()
            server, _thread = start_http_server(port, addr="127.0.0.1", registry=feeder.registry)
            servers.append(server)
            jobs.append((f"acgs-{feeder.service}", f"127.0.0.1:{port}"))

        def feed() -> None:
            while not stop.is_set():
                for feeder in feeders:
                    feeder.tick()
                stop.wait(0.2)

        threading.Thread(target=feed, daemon=True).start()

        node_port, am_port, prom_port = free_port(), free_port(), free_port()
        log = (state / "processes.log").open("wb")
        node = subprocess.Popen(
            ["prometheus-node-exporter", f"--web.listen-address=127.0.0.1:{node_port}"],
            stdout=log,
            stderr=log,
        )
        processes.append(node)
        (state / "alertmanager.yml").write_text(
            "route: {receiver: none}\nreceivers: [{name: none}]\n"
        )
        alertmanager = subprocess.Popen(
            [
                "prometheus-alertmanager",
                f"--config.file={state / 'alertmanager.yml'}",
                f"--storage.path={state / 'am'}",
                f"--web.listen-address=127.0.0.1:{am_port}",
                "--cluster.listen-address=",
            ],
            stdout=log,
            stderr=log,
        )
        processes.append(alertmanager)
        (state / "rules.yml").write_text(
            "groups:\n- name: dashboards-test\n  interval: 1s\n  rules:\n"
            "  - record: job:up:sum\n    expr: sum by (job) (up)\n"
            "  - alert: AlwaysFiring\n    expr: vector(1)\n"
        )
        scrape = [("prometheus", f"127.0.0.1:{prom_port}"), ("node", f"127.0.0.1:{node_port}")]
        scrape += [("alertmanager", f"127.0.0.1:{am_port}"), *jobs]
        configs = "".join(
            f"- job_name: {job}\n  static_configs: [{{targets: ['{target}']}}]\n"
            for job, target in scrape
        )
        (state / "prometheus.yml").write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            f"rule_files: ['{state / 'rules.yml'}']\n"
            "alerting: {alertmanagers: [{static_configs: "
            f"[{{targets: ['127.0.0.1:{am_port}']}}]}}]}}\n"
            f"scrape_configs:\n{configs}"
        )
        prometheus = subprocess.Popen(
            [
                "prometheus",
                f"--config.file={state / 'prometheus.yml'}",
                f"--storage.tsdb.path={state / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
            stdout=log,
            stderr=log,
        )
        processes.append(prometheus)
        url = f"http://127.0.0.1:{prom_port}"
        _wait_http(f"{url}/-/ready", prometheus, "prometheus")
        stack = LiveStack(url, SERVICE_NAMES)
        stack.wait_for('up{job="acgs-ec"} == 1')
        stack.wait_for("alertmanager_notifications_total")
        yield stack
    finally:
        stop.set()
        for server in servers:
            server.shutdown()
            server.server_close()
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
