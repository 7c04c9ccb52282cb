from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from acgs_deploy.secrets import Secrets
from acgs_deploy.settings import StackSettings
from acgs_deploy.tls import CertificateInfo, ensure_certificates

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
