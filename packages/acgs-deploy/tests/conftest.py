from __future__ import annotations

from pathlib import Path

import pytest

from acgs_deploy.secrets import Secrets
from acgs_deploy.settings import StackSettings
from acgs_deploy.tls import CertificateInfo, ensure_certificates

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
