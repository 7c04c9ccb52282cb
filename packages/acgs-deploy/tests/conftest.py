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

import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import bcrypt
import httpx
import prometheus_client
import pytest

from acgs_deploy.client import Endpoint, query
from acgs_deploy.commandlines import alertmanager_command, prometheus_command
from acgs_deploy.secrets import Secrets
from acgs_deploy.settings import StackSettings
from acgs_deploy.tls import CertificateInfo, ensure_certificates
from acgs_metrics.ports import free_port

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
    )


@pytest.fixture
def prepared(settings: StackSettings) -> tuple[Secrets, CertificateInfo]:
    settings.layout.make()
    secrets, _ = Secrets.ensure(settings.state_dir)
    return secrets, ensure_certificates(settings)


@pytest.fixture
def issue_certificate(tmp_path: Path) -> IssueCertificate:
    """Server certificates with exactly the given SANs from a "corporate" CA made elsewhere."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from acgs_deploy import tls
    from acgs_deploy.layout import StateLayout

    pki = ensure_certificates(StackSettings.load(tmp_path / "pki"))
    ca_key = serialization.load_pem_private_key((pki.ca_cert.parent / "ca.key").read_bytes(), None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    ca = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())

    def issue(name: str, dns: list[str], ips: list[str]) -> dict[str, Path]:
        issued = StateLayout(tmp_path / name)
        issued.certs_dir.mkdir(parents=True)
        tls._make_server_cert(issued, ca, ca_key, dns, ips)
        return {
            "tls_cert_file": issued.server_cert,
            "tls_key_file": issued.server_key,
            "tls_ca_file": pki.ca_cert,
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


def wait_ready(
    client: httpx.Client, path: str, process: subprocess.Popen[bytes], log: Path
) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited: {log.read_text()[-2000:]}")
        try:
            if client.get(path).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{process.args[0]} not ready after 30 s: {log.read_text()[-2000:]}")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


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
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "server.crt", directory / "server.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    key.chmod(0o600)
    return cert, key


@pytest.fixture(scope="session")
def webhook(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Webhook]:
    log = tmp_path_factory.mktemp("webhook") / "alerts.jsonl"
    log.touch()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            body["received_at"] = time.time()
            with lock, log.open("a") as out:
                out.write(json.dumps(body) + "\n")
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Webhook(f"http://127.0.0.1:{server.server_port}/", log)
    finally:
        server.shutdown()
        server.server_close()


def _write_prometheus_config(
    base: Path, cert: Path, key: Path, am_port: int, targets: dict[str, int]
) -> None:
    """prometheus.yml (scraping itself through TLS and auth, and the other jobs in `targets`),
    web.yml and the test rules, in `base`."""
    password_hash = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    (base / "web.yml").write_text(
        f"tls_server_config:\n  cert_file: {cert}\n  key_file: {key}\n"
        f"basic_auth_users:\n  {USERNAME}: '{password_hash}'\n"
    )
    (base / "rules.yml").write_text(RULES)
    (base / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        f"rule_files: [{base / 'rules.yml'}]\n"
        "alerting:\n  alertmanagers:\n"
        f"    - static_configs: [{{targets: ['127.0.0.1:{am_port}']}}]\n"
        "scrape_configs:\n"
        "  - job_name: prometheus\n    scheme: https\n"
        f"    tls_config: {{ca_file: {cert}}}\n"
        f"    basic_auth: {{username: {USERNAME}, password: {PASSWORD}}}\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{targets['prometheus']}']}}]\n"
        + "".join(
            f"  - job_name: {job}\n    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n"
            for job, port in targets.items()
            if job != "prometheus"
        )
    )
    (base / "prometheus.yml").chmod(0o600)


@pytest.fixture(scope="session")
def stack(
    tmp_path_factory: pytest.TempPathFactory, tls: tuple[Path, Path], webhook: Webhook
) -> Iterator[Stack]:
    base = tmp_path_factory.mktemp("stack")
    cert, key = tls
    registry = prometheus_client.CollectorRegistry()
    fault = prometheus_client.Gauge("test_fault_active", "1 while a test fault is injected",
                                    registry=registry)  # fmt: skip
    exporter_port = free_port()
    exporter, exporter_thread = prometheus_client.start_http_server(
        exporter_port, addr="127.0.0.1", registry=registry
    )
    processes: list[subprocess.Popen[bytes]] = []
    try:
        am_port = free_port()
        (base / "alertmanager.yml").write_text(
            "route:\n  receiver: webhook\n  group_by: [alertname]\n  group_wait: 1s\n"
            "  group_interval: 1s\n  repeat_interval: 1h\n"
            f"receivers:\n  - name: webhook\n    webhook_configs:\n      - url: {webhook.url}\n"
        )
        am_log = base / "alertmanager.log"
        alertmanager = subprocess.Popen(
            alertmanager_command(config=base / "alertmanager.yml", data=base / "am-data",
                                 listen=f"127.0.0.1:{am_port}"),
            stdout=am_log.open("wb"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        processes.append(alertmanager)
        am_endpoint = Endpoint(f"http://127.0.0.1:{am_port}")
        with am_endpoint.client() as client:
            wait_ready(client, "/-/ready", alertmanager, am_log)

        port, absent_port = free_port(), free_port()
        targets = {"prometheus": port, "acgs-test": exporter_port, "absent": absent_port}
        _write_prometheus_config(base, cert, key, am_port, targets)
        prom_log = base / "prometheus.log"
        prometheus = subprocess.Popen(
            prometheus_command(
                config=base / "prometheus.yml", data=base / "data", listen=f"127.0.0.1:{port}",
                web_config=base / "web.yml",
                # Alerts fired before Alertmanager is discovered are resent after this.
                extra=["--rules.alert.resend-delay=1s"],
            ),
            stdout=prom_log.open("wb"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        processes.append(prometheus)
        endpoint = Endpoint(f"https://127.0.0.1:{port}", cert, USERNAME, PASSWORD)
        with endpoint.client() as client:
            wait_ready(client, "/-/ready", prometheus, prom_log)
            # Tests look at scraped series: wait for the first scrape of every job.
            wait_for(lambda: len(query(client, "up")) == 3)
        yield Stack(
            prometheus=endpoint,
            prometheus_pid=prometheus.pid,
            prometheus_data=base / "data",
            alertmanager=am_endpoint,
            alertmanager_pid=alertmanager.pid,
            webhook=webhook,
            fault=fault,
            ca_file=cert,
            targets={job: f"127.0.0.1:{job_port}" for job, job_port in targets.items()},
        )
    finally:
        for process in reversed(processes):
            stop(process)
        exporter.shutdown()
        exporter_thread.join(timeout=5)


def wait_for(predicate: Callable[[], object], timeout_s: float = 20.0) -> None:
    """Poll a zero-argument callable until it returns truthy."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"condition not met within {timeout_s} s")
