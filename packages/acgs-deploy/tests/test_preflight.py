"""Preflight and the state directory's lock: every refusal of a local deploy happens before
anything starts or is written, and says what to do."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from acgs_deploy import backends
from acgs_deploy.backends.base import DeployOptions, Report
from acgs_deploy.backends.local import LocalBackend
from acgs_deploy.errors import DeployError
from acgs_deploy.lock import LOCK_FILE
from acgs_deploy.preflight import ports_free
from acgs_deploy.settings import StackSettings
from acgs_testkit.ports import free_port, free_stack_settings


def deploy(settings: StackSettings, demo: bool | None = None) -> Report:
    return backends.deploy(LocalBackend(settings, DeployOptions(demo=demo)))


def _nothing_started(settings: StackSettings) -> bool:
    run = settings.layout.run_dir
    return not run.exists() or not list(run.glob("*.pid"))


@pytest.fixture
def settings(tmp_path: Path, rules_dir: Path) -> StackSettings:
    """Ports free now: these deploys bind them (the conftest's fixed ones only render)."""
    return free_stack_settings(tmp_path / "state", rules_dir=rules_dir)


def test_busy_port_is_refused_before_anything_starts(settings: StackSettings) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", settings.alertmanager_port))
        squatter.listen()
        with pytest.raises(DeployError) as caught:
            deploy(settings, demo=False)
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
    with pytest.raises(DeployError, match=r"share a port \(29555: prometheus, grafana\)"):
        deploy(settings)
    assert _nothing_started(settings)


def test_not_enough_disk(tmp_path: Path, rules_dir: Path) -> None:
    settings = StackSettings.load(tmp_path / "state", rules_dir=rules_dir, min_free_disk_mb=1 << 40)
    with pytest.raises(DeployError, match="MiB free under"):
        deploy(settings)
    assert _nothing_started(settings)


def test_state_dir_that_is_a_file(tmp_path: Path, rules_dir: Path) -> None:
    # Refused for root too (CI runs as root): nothing can be created under a regular file.
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    settings = StackSettings.load(blocker / "state", rules_dir=rules_dir)
    with pytest.raises(DeployError, match="cannot write to the state directory"):
        deploy(settings)


def test_broken_rule_stops_deploy_before_start(settings: StackSettings, rules_dir: Path) -> None:
    from acgs_deploy.configstore import ConfigError

    (rules_dir / "bad.yml").write_text("groups:\n  - name: x\n    rules: [{alert: X}]\n")
    with pytest.raises(ConfigError) as caught:
        deploy(settings)
    assert f"{rules_dir}/bad.yml" in str(caught.value)
    assert "Nothing was applied" in str(caught.value)
    assert _nothing_started(settings)
    assert not settings.layout.config_dir.exists()
    assert not list(settings.layout.config_versions_dir.glob(".staging-*"))  # discarded


def test_concurrent_deploys_are_refused(settings: StackSettings) -> None:
    import fcntl

    settings.state_dir.mkdir(parents=True)
    with (settings.state_dir / LOCK_FILE).open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(DeployError, match="another deploy, reload or down is running"):
            deploy(settings)
    assert _nothing_started(settings)


def test_a_listening_port_is_not_free() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert not ports_free([port])
        assert not ports_free([free_port(), port])
    assert ports_free([port])


def test_an_ipv6_listener_is_seen_on_an_ipv6_host() -> None:
    with socket.socket(socket.AF_INET6) as listener:
        listener.bind(("::1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert not ports_free([port], "::1")
    assert ports_free([port], "::1")
