from __future__ import annotations

from pathlib import Path

import pytest

from acgs_deploy.settings import SettingsError, StackSettings
from acgs_testkit.paths import REPO_ROOT


def test_defaults_are_the_guides_ports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = StackSettings.load()
    assert (settings.prometheus_port, settings.alertmanager_port) == (9090, 9093)
    assert (settings.node_exporter_port, settings.grafana_port) == (9100, 3000)
    assert settings.sim_base_port == 8000
    assert settings.retention == "15d"
    assert settings.state_dir.is_absolute()


def test_precedence_file_then_env_then_overrides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack_file = tmp_path / "stack.yml"
    stack_file.write_text("prometheus_port: 19090\nalertmanager_port: 19093\nretention: 30d\n")
    monkeypatch.setenv("ACGS_ALERTMANAGER_PORT", "29093")
    settings = StackSettings.load(
        tmp_path / "state", stack_file=stack_file, retention="7d", grafana_port=None
    )
    assert settings.prometheus_port == 19090  # from the file
    assert settings.alertmanager_port == 29093  # env beats file
    assert settings.retention == "7d"  # flag beats file
    assert settings.grafana_port == 3000  # None overrides are ignored
    assert settings.state_dir == (tmp_path / "state").absolute()


def test_state_dir_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACGS_STATE_DIR", str(tmp_path / "elsewhere"))
    assert StackSettings.load().state_dir == tmp_path / "elsewhere"


def test_bad_value_names_field_and_env(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"prometheus_port \(env ACGS_PROMETHEUS_PORT\)"):
        StackSettings.load(tmp_path, prometheus_port=70000)


def test_secret_values_are_not_echoed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ACGS_SMTP_PASSWORD", '["not-a-string-but-secret"]')
    monkeypatch.setenv("ACGS_PROMETHEUS_PORT", "x")
    with pytest.raises(SettingsError) as caught:
        StackSettings.load(tmp_path)
    assert "not-a-string-but-secret" not in str(caught.value)


def test_stack_file_errors_name_the_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "stack.yml"
    bad.write_text("prometheus_port: 1\nretention: [\n")
    with pytest.raises(SettingsError, match=r"stack\.yml:\d+: not valid YAML"):
        StackSettings.load(tmp_path, stack_file=bad)
    bad.write_text("prometheus_prot: 1\n")
    with pytest.raises(SettingsError, match=r"unknown setting.*prometheus_prot"):
        StackSettings.load(tmp_path, stack_file=bad)


def test_missing_stack_file(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="stack file not found"):
        StackSettings.load(tmp_path, stack_file=tmp_path / "nope.yml")


def test_wildcard_listen_connects_on_loopback(tmp_path: Path) -> None:
    wildcard = "0.0.0.0"  # noqa: S104
    assert StackSettings.load(tmp_path, host=wildcard).connect_host == "127.0.0.1"
    ports = StackSettings.load(tmp_path, sim_base_port=18000).ports()
    assert ports["acgs-auth"] == 18000
    assert ports["acgs-ec"] == 18006


def test_example_stack_file_loads(tmp_path: Path) -> None:
    """configs/stack.example.yml documents real settings: uncommented, it loads."""
    text = (REPO_ROOT / "configs" / "stack.example.yml").read_text()
    lines = [line[2:] for line in text.splitlines() if line.startswith("# ") and ": " in line]
    settings_lines = [line for line in lines if line.split(":")[0].isidentifier()]
    stack_file = tmp_path / "stack.yml"
    stack_file.write_text("\n".join(settings_lines) + "\n")
    settings = StackSettings.load(stack_file=stack_file)
    assert settings.state_dir == Path("/var/lib/acgs-monitoring")
    assert settings.redis_exporter_target == "127.0.0.1:9121"
    assert settings.external_labels["cluster"] == "acgs-1-production"
    assert len(settings_lines) > 20


def test_mapping_variable_that_is_not_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACGS_EXTERNAL_LABELS", "notjson")
    with pytest.raises(SettingsError, match=r"^ACGS_EXTERNAL_LABELS \(external_labels\): not a"):
        StackSettings.load(tmp_path)
    monkeypatch.setenv("ACGS_EXTERNAL_LABELS", '{"cluster": "acgs-2"}')
    assert StackSettings.load(tmp_path).external_labels == {"cluster": "acgs-2"}


@pytest.mark.parametrize("name", ["team-name", "1st", "__reserved", ""])
def test_external_label_names_are_checked(tmp_path: Path, name: str) -> None:
    stack_file = tmp_path / "stack.yml"
    stack_file.write_text(f'external_labels: {{"{name}": x, cluster: acgs}}\n')
    with pytest.raises(SettingsError) as caught:
        StackSettings.load(tmp_path, stack_file=stack_file)
    message = str(caught.value)
    assert "external_labels (env ACGS_EXTERNAL_LABELS)" in message
    assert f"invalid label name(s) {name!r}" in message
    assert "stack.yml" in message


def test_external_label_names_that_prometheus_accepts(tmp_path: Path) -> None:
    labels = {"cluster": "a", "_region": "b", "zone_2": "c"}
    assert StackSettings.load(tmp_path, external_labels=labels).external_labels == labels


@pytest.mark.parametrize("host", ["999.1.1.1", "1.2.3", "bad_name", "-dash.example", "a b"])
@pytest.mark.parametrize("key", ["host", "sim_host"])
def test_an_address_that_cannot_be_one_is_refused(tmp_path: Path, key: str, host: str) -> None:
    stack_file = tmp_path / "stack.yml"
    stack_file.write_text(f"{key}: {host!r}\n")
    with pytest.raises(SettingsError) as caught:
        StackSettings.load(tmp_path / "state", stack_file=stack_file)
    message = str(caught.value)
    assert f"{key} (env ACGS_{key.upper()}): " in message
    assert "not an IP address or host name: give an address of this machine" in message
    assert str(stack_file) in message


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0", "::1", "::", "", "localhost", "a-b.c"])  # noqa: S104
def test_addresses_and_names_are_accepted(tmp_path: Path, host: str) -> None:
    assert StackSettings.load(tmp_path / "state", host=host).host == host


DURATION_KEYS = ["retention", "scrape_interval", "acgs_scrape_interval", "evaluation_interval"]


@pytest.mark.parametrize("key", DURATION_KEYS)
@pytest.mark.parametrize("value", ["0s", "0m", "0ms", "00h"])
def test_a_zero_duration_is_refused(tmp_path: Path, key: str, value: str) -> None:
    stack_file = tmp_path / "stack.yml"
    stack_file.write_text(f"{key}: {value}\n")
    with pytest.raises(SettingsError) as caught:
        StackSettings.load(tmp_path / "state", stack_file=stack_file)
    assert f"{key} (env ACGS_{key.upper()}): Value error, must be longer than 0" in str(
        caught.value
    )


def test_a_retention_longer_than_prometheus_can_hold_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"retention .*too long for Prometheus"):
        StackSettings.load(tmp_path / "state", retention="300y")
    assert StackSettings.load(tmp_path / "state", retention="290y").retention == "290y"


def test_topology_plan_single_and_ha(tmp_path: Path) -> None:
    single = StackSettings.load(tmp_path).topology_plan
    assert (single.prometheus_count, single.alertmanager_replicas) == (1, 1)
    assert single.long_term_storage == "none"
    ha = StackSettings.load(tmp_path, topology="ha", prometheus_shards=2).topology_plan
    assert (ha.prometheus_replicas, ha.prometheus_count, ha.alertmanager_replicas) == (2, 4, 3)
    assert ha.long_term_storage == "victoriametrics"


def test_replica_keys_without_topology_ha_name_the_fix(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as caught:
        StackSettings.load(tmp_path, alertmanager_replicas=5, smtp_password="s3cret")
    message = str(caught.value)
    assert "alertmanager_replicas apply only to topology ha" in message
    assert "s3cret" not in message


def test_a_full_dump_of_single_settings_loads_back(tmp_path: Path) -> None:
    """deploy.json keeps every field; the topology counts at their defaults are no error."""
    dumped = StackSettings.load(tmp_path).model_dump(mode="json")
    assert StackSettings(**dumped).topology_plan.prometheus_count == 1
