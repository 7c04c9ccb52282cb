"""Fixtures: built dashboards, and a real Prometheus scraping the ACGS simulator.

The live stack is real programs on free loopback ports with temporary directories:
``acgs-sim`` (the seven demo services, jobs ``acgs-<service>``, with a small ``error_rate``
fault on gs so 5xx series and the SLO error-ratio recordings exist),
``/usr/bin/prometheus`` (scraping every second, loading the repository's ``rules/`` and an
always-firing alert, sending to an Alertmanager), ``prometheus-alertmanager`` and
``prometheus-node-exporter``. Everything started is stopped in ``finally``.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from acgs_dashboards.build import build_all
from acgs_sim.testing import SimProcess, free_base_port

REPO = Path(__file__).resolve().parents[3]


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
    sim = SimProcess(free_base_port(), "--seed", "7")
    log = (state / "processes.log").open("wb")
    try:
        sim.start()
        # A few 5xx on gs: error ratios and the SLO recordings need some errors to exist.
        httpx.post(
            f"{sim.url('gs')}/control/faults", json={"fault": "error_rate", "value": 0.05}
        ).raise_for_status()
        jobs = [(f"acgs-{s}", f"127.0.0.1:{sim.port(s)}") for s in sim.services]
        node_port, am_port, prom_port = free_port(), free_port(), free_port()
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
        # The repository's rules (the SLO dashboard reads their recordings), and an alert
        # that always fires so notification metrics move.
        (state / "rules.yml").write_text(
            "groups:\n- name: dashboards-test\n  rules:\n"
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
            f"rule_files: ['{state / 'rules.yml'}', '{REPO / 'rules'}/*.yml']\n"
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
        stack = LiveStack(url, tuple(sim.services))
        stack.wait_for('up{job="acgs-ec"} == 1')
        stack.wait_for("alertmanager_notifications_total")
        yield stack
    finally:
        if sim.process is not None:
            sim.terminate()
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()
