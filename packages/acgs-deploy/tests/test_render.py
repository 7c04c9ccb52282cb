"""Rendering and validation with the real promtool and amtool."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import yaml

from acgs_deploy import configstore
from acgs_deploy.components import components
from acgs_deploy.render import local_topology, render
from acgs_deploy.secrets import Secrets
from acgs_deploy.settings import StackSettings
from acgs_deploy.tls import CertificateInfo
from acgs_testkit.paths import REPO_ROOT

Prepared = tuple[Secrets, CertificateInfo]


def _render(settings: StackSettings, prepared: Prepared, *, demo: bool = True) -> Path:
    secrets, _ = prepared
    staged = configstore.staging_dir(settings.layout)
    render(settings, secrets, local_topology(settings, demo=demo), staged)
    return staged


def test_rendered_configs_pass_promtool_and_amtool(
    settings: StackSettings, prepared: Prepared
) -> None:
    staged = _render(settings, prepared)
    configstore.validate(staged, settings.rules_dir)
    prometheus = yaml.safe_load((staged / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in prometheus["scrape_configs"]}
    acgs = [name for name in jobs if name.startswith("acgs-")]
    assert len(acgs) == 7
    assert jobs["acgs-gs"]["static_configs"][0]["targets"] == ["127.0.0.1:28004"]
    assert jobs["acgs-gs"]["scrape_interval"] == "5s"
    assert prometheus["global"]["scrape_interval"] == "15s"
    assert prometheus["global"]["evaluation_interval"] == "5s"
    for name in ("prometheus", "alertmanager", "node_exporter"):
        assert jobs[name]["scheme"] == "https"
        assert jobs[name]["basic_auth"]["username"] == "acgs_monitor"
    assert not {"haproxy", "redis", "postgres"} & set(jobs)
    assert (staged / "rules" / "test.yml").is_file()
    for path in staged.rglob("*"):
        expected = 0o700 if path.is_dir() else 0o600
        assert stat.S_IMODE(path.stat().st_mode) == expected, path


def test_optional_exporters_only_when_enabled(tmp_path: Path, prepared: Prepared) -> None:
    settings = StackSettings.load(
        tmp_path / "state", rules_dir=tmp_path / "none", redis_exporter_target="127.0.0.1:9121"
    )
    staged = _render(settings, prepared)
    configstore.validate(staged)
    jobs = {
        j["job_name"]
        for j in yaml.safe_load((staged / "prometheus.yml").read_text())["scrape_configs"]
    }
    assert "redis" in jobs
    assert not {"haproxy", "postgres"} & jobs


def test_receivers_route_by_severity(tmp_path: Path, settings: StackSettings) -> None:
    settings.layout.make()
    secrets, _ = Secrets.ensure(
        settings.state_dir,
        {
            "slack_webhook_url": "https://hooks.slack.invalid/T000/B000/XXX",
            "pagerduty_routing_key": "0123456789abcdef0123456789abcdef",
            "alert_email_to": "oncall@example.org",
            "smtp_smarthost": "smtp.example.org:587",
            "smtp_from": "alerts@example.org",
        },
    )
    from acgs_deploy.tls import ensure_certificates

    staged = _render(settings, (secrets, ensure_certificates(settings)), demo=False)
    configstore.validate(staged)
    config = yaml.safe_load((staged / "alertmanager.yml").read_text())
    receivers = {r["name"]: r for r in config["receivers"]}
    assert "pagerduty_configs" in receivers["critical"]
    assert "slack_configs" in receivers["warning"]
    assert "pagerduty_configs" not in receivers["warning"]
    assert "email_configs" in receivers["default"]
    assert not any("webhook_configs" in r for r in receivers.values())  # not a demo
    routes = {tuple(r["matchers"]): r for r in config["route"]["routes"]}
    assert routes[('severity="critical"',)]["group_wait"] == "5s"
    assert config["route"]["group_wait"] == "30s"
    assert config["route"]["group_interval"] == "1m"


def test_broken_rule_is_refused_with_file_and_line(
    settings: StackSettings, prepared: Prepared, rules_dir: Path
) -> None:
    staged = _render(settings, prepared)
    assert configstore.apply(staged, settings.layout)
    live_before = settings.layout.config_dir.resolve()
    (rules_dir / "broken.yml").write_text(
        "groups:\n  - name: b\n    rules:\n      - alert: Broken\n        expr: up ==\n"
    )
    staged = _render(settings, prepared)
    with pytest.raises(configstore.ConfigError) as caught:
        configstore.validate(staged, settings.rules_dir)
    message = str(caught.value)
    assert f"{rules_dir}/broken.yml: 5:15" in message
    assert str(staged) not in message
    assert settings.layout.config_dir.resolve() == live_before


def test_apply_swaps_atomically_and_reports_changes(
    settings: StackSettings, prepared: Prepared, rules_dir: Path
) -> None:
    first = configstore.apply(_render(settings, prepared), settings.layout)
    assert "prometheus.yml" in first
    assert settings.layout.config_dir.is_symlink()
    assert configstore.apply(_render(settings, prepared), settings.layout) == set()
    before = configstore.live_version(settings.layout)
    (rules_dir / "more.yml").write_text(
        (rules_dir / "test.yml").read_text().replace("name: test", "name: more")
    )
    changed = configstore.apply(_render(settings, prepared), settings.layout)
    assert changed == {"rules/more.yml"}
    reading = {c.name for c in components(settings, demo=False) if c.config_changed(changed)}
    assert reading == {"prometheus"}
    # Kept: the new version and the one live before it, to go back to.
    versions = set(settings.layout.config_versions_dir.glob("v-*"))
    assert versions == {configstore.live_version(settings.layout), before}
    assert not list(settings.layout.config_versions_dir.glob(".staging-*"))


def test_the_version_put_back_after_a_failed_start_is_kept(
    settings: StackSettings, prepared: Prepared, rules_dir: Path
) -> None:
    layout = settings.layout
    configstore.apply(_render(settings, prepared), layout)
    worked = configstore.live_version(layout)
    assert worked is not None
    (rules_dir / "more.yml").write_text(
        (rules_dir / "test.yml").read_text().replace("name: test", "name: more")
    )
    configstore.apply(_render(settings, prepared), layout)
    failed = configstore.live_version(layout)
    configstore.reinstate(worked, layout)  # as a roll-back does
    assert configstore.live_version(layout) == worked
    assert not (layout.config_dir / "rules" / "more.yml").exists()
    (rules_dir / "more.yml").unlink()
    (rules_dir / "other.yml").write_text(
        (rules_dir / "test.yml").read_text().replace("name: test", "name: other")
    )
    configstore.apply(_render(settings, prepared), layout)
    # The next apply keeps the version it replaced (the one that worked), not the failed one.
    assert set(layout.config_versions_dir.glob("v-*")) == {configstore.live_version(layout), worked}
    assert failed is not None
    assert not failed.exists()


def test_bad_template_output_names_the_template(
    settings: StackSettings, prepared: Prepared
) -> None:
    staged = _render(settings, prepared)
    text = (staged / "alertmanager.yml").read_text().replace("group_wait: 5s", "group_wait: 5x")
    (staged / "alertmanager.yml").write_text(text)
    with pytest.raises(configstore.ConfigError, match="amtool check-config failed"):
        configstore.validate(staged)


def test_email_without_smtp_is_a_clear_error(settings: StackSettings) -> None:
    from acgs_deploy.render import RenderError
    from acgs_deploy.tls import ensure_certificates

    settings.layout.make()
    secrets, _ = Secrets.ensure(settings.state_dir, {"alert_email_to": "a@example.org"})
    with pytest.raises(RenderError, match="smtp_smarthost"):
        _render(settings, (secrets, ensure_certificates(settings)))


def test_grafana_provisioning_and_dashboards_without_secrets(
    settings: StackSettings, prepared: Prepared
) -> None:
    secrets, _ = prepared
    staged = _render(settings, prepared)
    configstore.validate(staged)
    grafana = staged / "grafana"
    dashboards = sorted((grafana / "dashboards").glob("*.json"))
    assert len(dashboards) >= 1
    provider = yaml.safe_load((grafana / "provisioning" / "dashboards" / "acgs.yml").read_text())
    # Grafana reads the dashboards from the live config, not from the staging copy.
    assert provider["providers"][0]["options"]["path"] == str(
        settings.layout.config_dir / "grafana" / "dashboards"
    )
    datasource = (grafana / "provisioning" / "datasources" / "acgs.yml").read_text()
    assert secrets.prometheus_password not in datasource
    assert "$PROMETHEUS_PASSWORD" in datasource
    ini = (grafana / "grafana.ini").read_text()
    for hardening in (
        "protocol = https",
        "allow_sign_up = false",
        "cookie_secure = true",
        "disable_gravatar = true",
        "reporting_enabled = false",
    ):
        assert hardening in ini
    assert stat.S_IMODE((grafana / "grafana.ini").stat().st_mode) == 0o600


def test_unchanged_dashboards_are_reused_and_changes_rebuild(
    settings: StackSettings, prepared: Prepared, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "dashboards"
    source.mkdir()
    for path in (REPO_ROOT / "dashboards").glob("*.py"):
        source.joinpath(path.name).write_text(path.read_text())
    monkeypatch.setenv("ACGS_DASHBOARDS_DIR", str(source))
    first = _render(settings, prepared)
    configstore.apply(first, settings.layout)
    live = settings.layout.config_dir / "grafana"
    built = sorted(p.name for p in (live / "dashboards").glob("*.json"))
    assert built
    # Same sources: the live output is reused, byte for byte, and nothing changes.
    assert configstore.apply(_render(settings, prepared), settings.layout) == set()
    # One definition removed: the build runs again and its dashboard disappears.
    victim = sorted(source.glob("*.py"))[0]
    victim.unlink()
    changed = configstore.apply(_render(settings, prepared), settings.layout)
    assert any(name.startswith("grafana/dashboards/") for name in changed)
    assert len(list((live / "dashboards").glob("*.json"))) == len(built) - 1
