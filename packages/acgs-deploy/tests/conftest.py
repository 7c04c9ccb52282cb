"""Fixtures for the package's tests.

State directories: `settings` (fixed test ports in a temporary state directory), `prepared`
(with secrets and certificates), `issue_certificate` (a "corporate" CA's certificates).

Real servers (`tls`, `webhook`, `stack`) for the client, health, perf and alert-report tests:
Prometheus runs with TLS and basic auth (as the deployed stack does), scrapes itself and a
small exporter whose `test_fault_active` gauge the tests flip to inject a fault, and
evaluates test alert rules every second. Alertmanager sends to a webhook receiver in this
process that appends each delivery to a JSONL file. Everything runs on free loopback ports in
a temporary directory and is stopped at the end, also on failure.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import prometheus_client
import pytest

from acgs_deploy import tls as pki
from acgs_deploy.client import Endpoint, query
from acgs_deploy.secrets import Secrets
from acgs_deploy.settings import StackSettings
from acgs_deploy.tls import CertificateInfo, ensure_certificates
from acgs_deploy.webhook import serve
from acgs_testkit.ca import Certs, make_certs
from acgs_testkit.ports import free_port
from acgs_testkit.servers import WebAuth, alertmanager, prometheus
from acgs_testkit.waiting import wait_for

# (name, DNS SANs, IP SANs) -> the tls_cert_file / tls_key_file / tls_ca_file settings.
IssueCertificate = Callable[[str, list[str], list[str]], dict[str, Path]]

GOOD_RULE = """groups:
  - name: test
    rules:
      - alert: TestAlwaysFiring
        expr: vector(1)
        labels:
          severity: warning
        annotations:
          summary: always
"""


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    path = tmp_path / "rules"
    path.mkdir()
    (path / "test.yml").write_text(GOOD_RULE)
    return path


@pytest.fixture
def settings(tmp_path: Path, rules_dir: Path) -> StackSettings:
    return StackSettings.load(
        tmp_path / "state",
        rules_dir=rules_dir,
        prometheus_port=29090,
        alertmanager_port=29093,
        node_exporter_port=29100,
        grafana_port=29300,
        sim_base_port=28000,
        webhook_port=29097,
        infra=False,
    )


@pytest.fixture
def prepared(settings: StackSettings) -> tuple[Secrets, CertificateInfo]:
    settings.layout.make()
    secrets, _ = Secrets.ensure(settings.state_dir)
    return secrets, ensure_certificates(settings)


@pytest.fixture
def issue_certificate(tmp_path: Path) -> IssueCertificate:
    """Server certificates with exactly the given SANs from a "corporate" CA made elsewhere."""
    ca_key, ca_cert = pki.new_ca("corporate CA")
    pki.write_certificate(tmp_path / "corporate-ca.crt", ca_cert)

    def issue(name: str, dns: list[str], ips: list[str]) -> dict[str, Path]:
        key, cert = pki.issue_certificate(ca_cert, ca_key, dns=dns, ips=ips)
        pki.write_key(tmp_path / f"{name}.key", key)
        pki.write_certificate(tmp_path / f"{name}.crt", cert)
        return {
            "tls_cert_file": tmp_path / f"{name}.crt",
            "tls_key_file": tmp_path / f"{name}.key",
            "tls_ca_file": tmp_path / "corporate-ca.crt",
        }

    return issue


USERNAME = "prom-test"
PASSWORD = "s3cret-for-tests"

RULES = """
groups:
  - name: perf-tests
    interval: 1s
    rules:
      - alert: TestAlwaysFiring
        expr: vector(1)
        labels: {severity: warning}
      - alert: TestFlapping
        expr: vector(time()) % 6 < 3
        labels: {severity: warning}
      - alert: TestFault
        expr: test_fault_active > 0
        labels: {severity: critical, service: gs}
      - alert: TestPerTarget
        expr: up >= 0
        labels: {severity: info}
      - record: test:up:sum
        expr: sum(up)
"""


@dataclass
class Webhook:
    """The Alertmanager webhook receiver: each delivery is one JSONL line with `received_at`."""

    url: str
    log: Path


@dataclass
class Stack:
    prometheus: Endpoint
    prometheus_pid: int
    prometheus_data: Path
    alertmanager: Endpoint
    alertmanager_pid: int
    webhook: Webhook
    fault: prometheus_client.Gauge
    ca_file: Path
    # job -> the address Prometheus scrapes for it
    targets: dict[str, str]


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    """The servers' certificates, valid for 30 days (the certificate check's thresholds)."""
    return make_certs(tmp_path_factory.mktemp("tls"), days=30)


@pytest.fixture(scope="session")
def webhook(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Webhook]:
    """The stack's own demo receiver (acgs_deploy.webhook) in a thread of this process."""
    log = tmp_path_factory.mktemp("webhook") / "alerts.jsonl"
    server = serve("127.0.0.1", free_port(), log)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Webhook(f"http://127.0.0.1:{server.server_port}/", log)
    finally:
        server.shutdown()
        server.server_close()


def _prometheus_config(ca: Path, am_port: int, targets: dict[str, int]) -> str:
    """Scraping itself through TLS and auth, and the other jobs in `targets`; the test rules."""
    return (
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "rule_files: [rules.yml]\n"
        "alerting:\n  alertmanagers:\n"
        f"    - static_configs: [{{targets: ['127.0.0.1:{am_port}']}}]\n"
        "scrape_configs:\n"
        "  - job_name: prometheus\n    scheme: https\n"
        f"    tls_config: {{ca_file: {ca}}}\n"
        f"    basic_auth: {{username: {USERNAME}, password: {PASSWORD}}}\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{targets['prometheus']}']}}]\n"
        + "".join(
            f"  - job_name: {job}\n    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n"
            for job, port in targets.items()
            if job != "prometheus"
        )
    )


@pytest.fixture(scope="session")
def stack(
    tmp_path_factory: pytest.TempPathFactory, tls: Certs, webhook: Webhook
) -> Iterator[Stack]:
    base = tmp_path_factory.mktemp("stack")
    registry = prometheus_client.CollectorRegistry()
    fault = prometheus_client.Gauge("test_fault_active", "1 while a test fault is injected",
                                    registry=registry)  # fmt: skip
    exporter_port = free_port()
    exporter, exporter_thread = prometheus_client.start_http_server(
        exporter_port, addr="127.0.0.1", registry=registry
    )
    am_config = (
        "route:\n  receiver: webhook\n  group_by: [alertname]\n  group_wait: 1s\n"
        "  group_interval: 1s\n  repeat_interval: 1h\n"
        f"receivers:\n  - name: webhook\n    webhook_configs:\n      - url: {webhook.url}\n"
    )
    port, absent_port = free_port(), free_port()
    auth = WebAuth(tls.server_cert, tls.server_key, tls.ca, USERNAME, PASSWORD)
    with ExitStack() as running:
        running.callback(exporter_thread.join, 5)
        running.callback(exporter.shutdown)
        am = running.enter_context(alertmanager(base / "alertmanager", am_config))
        targets = {"prometheus": port, "acgs-test": exporter_port, "absent": absent_port}
        (base / "prometheus").mkdir()
        (base / "prometheus" / "rules.yml").write_text(RULES)
        config = _prometheus_config(tls.ca, am.port, targets)
        # Alerts fired before Alertmanager is discovered are resent after this.
        resend = ["--rules.alert.resend-delay=1s"]
        prom = prometheus(base / "prometheus", config, port=port, auth=auth, extra=resend)
        running.enter_context(prom)
        endpoint = Endpoint(prom.url, tls.ca, USERNAME, PASSWORD)
        with endpoint.client() as client:
            # Tests look at scraped series: wait for the first scrape of every job.
            wait_for(lambda: len(query(client, "up")) == 3, what="the first scrape of each job")
        yield Stack(
            prometheus=endpoint,
            prometheus_pid=prom.pid,
            prometheus_data=base / "prometheus" / "data",
            alertmanager=Endpoint(am.url),
            alertmanager_pid=am.pid,
            webhook=webhook,
            fault=fault,
            ca_file=tls.ca,
            targets={job: f"127.0.0.1:{job_port}" for job, job_port in targets.items()},
        )
