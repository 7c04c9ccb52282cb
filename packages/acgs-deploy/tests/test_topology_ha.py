"""Topology ha without running it: the servers it plans, its ports and their collisions, the
rendered files (checked by promtool, amtool and haproxy -c, as a deploy checks them) and the
refusals of bad input, all before anything starts."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from acgs_deploy import backends, commands
from acgs_deploy.backends.base import DeployOptions
from acgs_deploy.backends.local import LocalBackend
from acgs_deploy.binaries import MissingBinaries
from acgs_deploy.commandlines import Cluster, alertmanager_command
from acgs_deploy.components import (
    components,
    datasource_url,
    dedup_interval,
    victoriametrics_retention,
)
from acgs_deploy.errors import DeployError
from acgs_deploy.exitcodes import EXIT_USAGE
from acgs_deploy.instances import instances
from acgs_deploy.secrets import Secrets
from acgs_deploy.settings import SettingsError, StackSettings
from acgs_testkit.ports import free_stack_settings

GUIDE_PORTS = {3000, 8080, *range(8000, 8007), *range(9090, 9102), 9121, 9187}


@pytest.fixture
def ha(tmp_path: Path, rules_dir: Path) -> StackSettings:
    return free_stack_settings(tmp_path / "state", rules_dir=rules_dir, topology="ha")


def test_the_default_ha_ports_stay_off_the_guides_and_each_other(tmp_path: Path) -> None:
    settings = StackSettings.load(tmp_path, topology="ha", prometheus_shards=2)
    ports = settings.ports()
    assert len(set(ports.values())) == len(ports), ports
    ha_only = {p for name, p in ports.items() if name not in StackSettings.load(tmp_path).ports()}
    assert ha_only, ports
    assert not ha_only & GUIDE_PORTS
    assert 8428 in ha_only  # VictoriaMetrics keeps its usual port
    names = [i.name for i in instances(settings)]
    assert names[:4] == ["prometheus", "prometheus-1", "prometheus-2", "prometheus-3"]
    assert "alertmanager-2" in names
    assert names[-2:] == ["victoriametrics", "query"]


def test_topology_single_plans_what_it_always_ran(tmp_path: Path) -> None:
    settings = StackSettings.load(tmp_path)
    assert [i.name for i in instances(settings)] == ["prometheus", "alertmanager"]
    argv = {c.name: list(c.spec.argv) for c in components(settings, demo=False) if c.spec}
    assert "--cluster.listen-address=" in argv["alertmanager"]  # no gossip port at all


def test_two_servers_on_one_port_are_named_both(ha: StackSettings, tmp_path: Path) -> None:
    clash = ha.model_copy(update={"query_port": ha.prometheus_replica_base_port})
    with pytest.raises(DeployError, match=r"share a port \([0-9]+: prometheus-1, query\)"):
        LocalBackend(clash).preflight()
    assert not clash.layout.run_dir.exists() or not list(clash.layout.run_dir.glob("*.pid"))


def test_retention_shorter_than_victoriametrics_keeps_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="retention 12h is shorter than VictoriaMetrics"):
        StackSettings.load(tmp_path, topology="ha", retention="12h")
    # Without the store it is fine.
    StackSettings.load(tmp_path, topology="ha", retention="12h", long_term_storage="none")


def test_replicas_below_one_are_refused_by_the_settings(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="prometheus_replicas"):
        StackSettings.load(tmp_path, topology="ha", prometheus_replicas=0)


def test_victoriametrics_flags_from_the_settings() -> None:
    assert victoriametrics_retention("15d") == "15d"
    assert victoriametrics_retention("2w") == "14d"
    assert victoriametrics_retention("36h") == "36h"
    assert victoriametrics_retention("1500m") == "25h"  # a bare number would be months
    settings = StackSettings.load(Path("/nonexistent"), topology="ha")
    assert dedup_interval(settings) == "5s"  # the ACGS jobs' interval, the shortest


def test_the_rendered_ha_configuration_passes_every_check(ha: StackSettings) -> None:
    backend = LocalBackend(ha, DeployOptions(demo=False))
    rendered = backend.render()
    try:
        backend.validate(rendered)  # promtool on each prometheus*.yml, amtool, haproxy -c
        config = rendered.config
        first = yaml.safe_load((config / "prometheus.yml").read_text())
        second = yaml.safe_load((config / "prometheus-1.yml").read_text())
        assert first["global"]["external_labels"]["replica"] == "0"
        assert second["global"]["external_labels"]["replica"] == "1"
        del first["global"]["external_labels"]["replica"]
        del second["global"]["external_labels"]["replica"]
        assert first == second  # the same scrape, rule, alerting and remote_write config
        targets = first["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
        assert len(targets) == 3
        write = first["remote_write"][0]
        assert write["url"] == f"https://127.0.0.1:{ha.victoriametrics_port}/api/v1/write"
        assert "basic_auth" in write
        assert "tls_config" in write
        query = (config / "query.cfg").read_text()
        assert "backup" in query
        assert query.index("victoriametrics") < query.index("prometheus-0")
        assert (config / "query.cfg").stat().st_mode & 0o077 == 0
        gossip = yaml.safe_load((config / "alertmanager-cluster.yml").read_text())
        assert gossip["tls_server_config"]["client_auth_type"] == "RequireAndVerifyClientCert"
        assert Path(gossip["tls_client_config"]["cert_file"]) == ha.layout.peer_cert
    finally:
        rendered.discard()


def test_no_secret_in_any_command_line(ha: StackSettings) -> None:
    LocalBackend(ha).render().discard()  # makes monitoring.env
    secrets = Secrets.load(ha.state_dir)
    password = secrets.prometheus_password
    parts = components(ha, demo=False, secrets=secrets)
    store = next(c for c in parts if c.name == "victoriametrics")
    assert store.spec is not None
    assert store.spec.env is not None
    assert store.spec.env["ACGS_VM_httpAuth_password"] == password
    assert all(password not in " ".join(c.spec.argv) for c in parts if c.spec)


def test_a_long_term_store_that_is_not_installed_is_refused_first(
    ha: StackSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A PATH with every binary but victoria-metrics (and no apt-get to install it with)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("prometheus", "promtool", "prometheus-alertmanager", "amtool",
                 "prometheus-node-exporter", "haproxy"):  # fmt: skip
        found = shutil.which(name)
        assert found, name
        (bin_dir / name).symlink_to(found)
    monkeypatch.setenv("PATH", str(bin_dir))
    with pytest.raises(MissingBinaries, match="long_term_storage: victoriametrics needs") as info:
        backends.deploy(LocalBackend(ha, DeployOptions(demo=False)))
    assert "set long_term_storage: none" in str(info.value)
    assert not ha.layout.run_dir.exists() or not list(ha.layout.run_dir.glob("*.pid"))


def test_grafana_queries_the_endpoint_with_ha_and_prometheus_without(tmp_path: Path) -> None:
    ha = StackSettings.load(tmp_path, topology="ha", query_port=29190)
    assert datasource_url(ha) == "https://127.0.0.1:29190"
    assert datasource_url(StackSettings.load(tmp_path)) == "https://127.0.0.1:9090"


def test_an_alertmanager_peer_gossips_with_every_other_over_tls(tmp_path: Path) -> None:
    cluster = Cluster("127.0.0.1:9401", ["127.0.0.1:9400", "127.0.0.1:9402"], tmp_path / "g.yml")
    argv = alertmanager_command(
        config=tmp_path / "a.yml", data=tmp_path, listen="127.0.0.1:9300", cluster=cluster
    )
    assert argv[-4:] == [
        "--cluster.listen-address=127.0.0.1:9401",
        "--cluster.peer=127.0.0.1:9400",
        "--cluster.peer=127.0.0.1:9402",
        f"--cluster.tls-config={tmp_path / 'g.yml'}",
    ]
    alone = alertmanager_command(config=tmp_path / "a.yml", data=tmp_path, listen="x:1")
    assert "--cluster.listen-address=" in alone
    assert not [flag for flag in alone if flag.startswith("--cluster.peer")]


def test_the_compose_target_refuses_topology_ha_for_now(tmp_path: Path) -> None:
    code = commands.deploy(target="compose", topology="ha", state_dir=tmp_path / "state")
    assert code == EXIT_USAGE
    assert not (tmp_path / "state" / "compose").exists()
