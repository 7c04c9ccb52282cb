"""Preflight: every refusal happens before anything starts and says what to do."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from acgs_deploy import stack
from acgs_deploy.settings import StackSettings


def _nothing_started(settings: StackSettings) -> bool:
    run = settings.layout.run_dir
    return not run.exists() or not list(run.glob("*.pid"))


def test_busy_port_is_refused_before_anything_starts(settings: StackSettings) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", settings.alertmanager_port))
        squatter.listen()
        with pytest.raises(stack.DeployError) as caught:
            stack.deploy(settings, demo=False)
    message = str(caught.value)
    assert f"alertmanager port {settings.alertmanager_port} on 127.0.0.1" in message
    assert "choose other ports" in message
    assert _nothing_started(settings)
    # Refused before anything changed: no configuration applied, no secrets made.
    assert not settings.layout.config_dir.exists()
    assert not settings.layout.env_file.exists()


def test_two_components_on_one_port(tmp_path: Path, rules_dir: Path) -> None:
    settings = StackSettings.load(
        tmp_path / "state", rules_dir=rules_dir, prometheus_port=29555, grafana_port=29555
    )
    with pytest.raises(stack.DeployError, match=r"share a port \(29555: prometheus, grafana\)"):
        stack.deploy(settings)
    assert _nothing_started(settings)


def test_not_enough_disk(tmp_path: Path, rules_dir: Path) -> None:
    settings = StackSettings.load(tmp_path / "state", rules_dir=rules_dir, min_free_disk_mb=1 << 40)
    with pytest.raises(stack.DeployError, match="MiB free under"):
        stack.deploy(settings)
    assert _nothing_started(settings)


def test_state_dir_that_is_a_file(tmp_path: Path, rules_dir: Path) -> None:
    # Refused for root too (CI runs as root): nothing can be created under a regular file.
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    settings = StackSettings.load(blocker / "state", rules_dir=rules_dir)
    with pytest.raises(stack.DeployError, match="cannot write to the state directory"):
        stack.deploy(settings)


def test_broken_rule_stops_deploy_before_start(settings: StackSettings, rules_dir: Path) -> None:
    from acgs_deploy.configstore import ConfigError

    (rules_dir / "bad.yml").write_text("groups:\n  - name: x\n    rules: [{alert: X}]\n")
    with pytest.raises(ConfigError) as caught:
        stack.deploy(settings)
    assert f"{rules_dir}/bad.yml" in str(caught.value)
    assert "Nothing was applied" in str(caught.value)
    assert _nothing_started(settings)
    assert not settings.layout.config_dir.exists()


def test_grafana_command_when_a_binary_is_found(
    settings: StackSettings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Grafana cannot run here; check what deploy would start when it is installed."""
    from acgs_deploy.secrets import Secrets
    from acgs_deploy.tls import ensure_certificates

    settings.layout.make()
    secrets, _ = Secrets.ensure(settings.state_dir)
    ensure_certificates(settings)
    binary = tmp_path / "bin" / "grafana-server"
    monkeypatch.setattr(
        stack.shutil, "which", lambda name: str(binary) if name == "grafana-server" else None
    )
    grafana = {c.name: c for c in stack.components(settings, demo=False, secrets=secrets)}[
        "grafana"
    ]
    assert grafana.spec is not None
    argv = list(grafana.spec.argv)
    assert argv[0] == str(binary)
    assert f"--config={settings.layout.config_dir / 'grafana' / 'grafana.ini'}" in argv
    assert secrets.prometheus_password not in " ".join(argv)
    env = grafana.spec.env or {}
    assert env["ACGS_PROMETHEUS_URL"] == f"https://127.0.0.1:{settings.prometheus_port}"
    assert env["PROMETHEUS_PASSWORD"] == secrets.prometheus_password
    assert env["ACGS_PROMETHEUS_CA_CERT"].startswith("-----BEGIN CERTIFICATE-----")


def test_grafana_not_installed_is_reported_with_how_to_get_it(
    settings: StackSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stack.shutil, "which", lambda name: None)
    states = {s.name: s for s in stack.status(settings)}
    assert states["grafana"].state == "not installed"
    assert "apt.grafana.com" in states["grafana"].hint
    assert states["prometheus"].state == "stopped"


def test_concurrent_deploys_are_refused(settings: StackSettings) -> None:
    import fcntl

    settings.state_dir.mkdir(parents=True)
    with (settings.state_dir / stack.LOCK_FILE).open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(stack.DeployError, match="another deploy, reload or down is running"):
            stack.deploy(settings)
    assert _nothing_started(settings)
