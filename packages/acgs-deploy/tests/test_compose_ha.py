"""The compose target with topology ha (2 shards x 2 replicas): one container per server,
rendered and validated for real (docker-compose config, promtool for every Prometheus,
amtool, vmalert -dryRun, haproxy -c). No Docker engine runs here, so `up` is not exercised."""

from __future__ import annotations

import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509

from acgs_deploy import backends
from acgs_deploy.backends.compose import COMPOSE_FILE, ComposeBackend
from acgs_deploy.secrets import Secrets
from acgs_deploy.settings import StackSettings
from acgs_testkit.paths import REPO_ROOT

PROMETHEUS = {"prometheus", "prometheus-1", "prometheus-2", "prometheus-3"}
ALERTMANAGERS = {"alertmanager", "alertmanager-1", "alertmanager-2"}


Deployed = tuple[StackSettings, Path, dict[str, Any]]


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Deployed:
    """One compose deployment for the module: (settings, compose dir, resolved services)."""
    tmp_path = tmp_path_factory.mktemp("compose-ha")
    rules = tmp_path / "rules"
    shutil.copytree(REPO_ROOT / "rules", rules, ignore=shutil.ignore_patterns("tests"))
    settings = StackSettings.load(
        tmp_path / "state",
        rules_dir=rules,
        topology="ha",
        prometheus_shards=2,
        sim_replicas=20,
        sim_base_port=18000,
    )
    backends.deploy(ComposeBackend(settings))  # renders and validates; no engine to start
    path = settings.layout.compose_dir / COMPOSE_FILE
    done = subprocess.run(
        ["docker-compose", "-f", path.name, "config"],
        capture_output=True,
        text=True,
        check=True,
        cwd=path.parent,
    )
    return settings, path.parent, yaml.safe_load(done.stdout)["services"]


def test_every_server_is_a_container_with_its_own_config_and_data(deployed: Deployed) -> None:
    _, compose, services = deployed
    extra = {"node-exporter", "grafana", "victoriametrics", "vmalert", "query"}
    assert set(services) == PROMETHEUS | ALERTMANAGERS | extra
    for name in PROMETHEUS:
        config = f"--config.file=/etc/acgs/{'prometheus' if name == 'prometheus' else name}.yml"
        assert config in services[name]["command"]
        assert (compose / "data" / name).is_dir()
    shard_1 = yaml.safe_load((compose / "config" / "prometheus-2.yml").read_text())
    assert shard_1["global"]["external_labels"]["shard"] == "1"
    assert shard_1["remote_write"][0]["url"] == "https://victoriametrics:8428/api/v1/write"
    assert all(j["relabel_configs"][1]["regex"] == "1" for j in shard_1["scrape_configs"])
    targets = shard_1["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert set(targets) == {f"{name}:9093" for name in ALERTMANAGERS}
    assert (compose / "config" / "rules" / "global" / "acgs-slo.yml").is_file()
    assert not (compose / "config" / "rules" / "acgs-slo.yml").exists()


def test_the_alertmanagers_gossip_with_each_other_over_mutual_tls(deployed: Deployed) -> None:
    _, compose, services = deployed
    command = services["alertmanager-1"]["command"]
    assert "--cluster.listen-address=0.0.0.0:9094" in command
    peers = {a.removeprefix("--cluster.peer=") for a in command if a.startswith("--cluster.peer")}
    assert peers == {"alertmanager:9094", "alertmanager-2:9094"}
    assert "--cluster.tls-config=/etc/acgs/alertmanager-cluster.yml" in command
    cluster = yaml.safe_load((compose / "config" / "alertmanager-cluster.yml").read_text())
    assert cluster["tls_client_config"]["cert_file"] == "/etc/acgs-certs/peer.crt"
    assert (compose / "certs" / "peer.key").is_file()


def test_vmalert_and_the_store_take_their_secrets_from_private_env_files(
    deployed: Deployed,
) -> None:
    settings, compose, services = deployed
    password = Secrets.load(settings.state_dir).prometheus_password
    text = (compose / COMPOSE_FILE).read_text()
    assert password not in text
    command = services["vmalert"]["command"]
    assert "-datasource.url=https://victoriametrics:8428" in command
    assert "-rule=/etc/acgs/rules/global/*.yml" in command
    notifiers = {a for a in command if a.startswith("-notifier.url=")}
    assert notifiers == {f"-notifier.url=https://{name}:9093" for name in ALERTMANAGERS}
    for env_file in ("victoriametrics.env", "vmalert.env"):
        path = compose / env_file
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert password in path.read_text()
    assert "-envflag.enable" in services["victoriametrics"]["command"]


def test_grafana_and_users_query_through_the_endpoint(deployed: Deployed) -> None:
    _, compose, services = deployed
    assert services["grafana"]["environment"]["ACGS_PROMETHEUS_URL"] == "https://query:9190"
    query = (compose / "config" / "query.cfg").read_text()
    assert "server victoriametrics victoriametrics:8428" in query
    assert "server prometheus-3 prometheus-3:9090 backup" in query
    assert "resolvers containers" in query
    # The containers reach each other by name: the certificate names every one.
    cert = x509.load_pem_x509_certificate((compose / "certs" / "server.crt").read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    names = set(sans.get_values_for_type(x509.DNSName))
    assert PROMETHEUS | ALERTMANAGERS | {"victoriametrics", "vmalert", "query"} <= names
