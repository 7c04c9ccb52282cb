"""The local stack's components: what each process runs with, and how a missing one is told."""

from __future__ import annotations

from pathlib import Path

import pytest

from acgs_deploy import components
from acgs_deploy.backends.local import LocalBackend
from acgs_deploy.component import plain_checks
from acgs_deploy.settings import StackSettings


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
        "acgs_deploy.components.shutil.which",
        lambda name: str(binary) if name == "grafana-server" else None,
    )
    grafana = {c.name: c for c in components.components(settings, demo=False, secrets=secrets)}[
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
    monkeypatch.setattr("acgs_deploy.components.shutil.which", lambda name: None)
    states = {s.name: s for s in LocalBackend(settings).status().components}
    assert states["grafana"].state == "not installed"
    assert "apt.grafana.com" in states["grafana"].hint
    assert states["prometheus"].state == "stopped"


def test_a_server_that_accepts_but_never_answers_is_unresponsive() -> None:
    """What a frozen or hung server looks like from outside: the kernel completes the TCP
    handshake (the backlog), but no HTTP answer ever comes."""
    import socket

    from acgs_testkit.ports import free_port

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        probe, answers = plain_checks([f"http://127.0.0.1:{silent.getsockname()[1]}/"])
        assert not probe()
        assert not answers()
    # Nothing listening: refused at once, which is not "unresponsive" (it may be starting).
    probe, answers = plain_checks([f"http://127.0.0.1:{free_port()}/"])
    assert not probe()
    assert answers()
