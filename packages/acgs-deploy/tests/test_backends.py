"""The deploy targets: one registry, every target behind one interface."""

from __future__ import annotations

import pytest

from acgs_deploy import backends, mode
from acgs_deploy.backends.base import DeployOptions
from acgs_deploy.backends.compose import ComposeBackend
from acgs_deploy.backends.kubernetes import KubernetesBackend
from acgs_deploy.backends.local import LocalBackend
from acgs_deploy.errors import UsageError
from acgs_deploy.settings import StackSettings


def test_an_unknown_target_is_a_usage_error_naming_the_known_ones() -> None:
    with pytest.raises(
        UsageError, match=r"unknown target 'helm': use local, compose or kubernetes"
    ):
        backends.factory("helm")
    assert backends.factory("compose") is ComposeBackend
    assert backends.factory("kubernetes") is KubernetesBackend


def test_status_and_down_ask_every_target(settings: StackSettings) -> None:
    assert [type(b) for b in backends.every(settings)] == [
        LocalBackend,
        ComposeBackend,
        KubernetesBackend,
    ]
    # Nothing deployed: the local stack is stopped, compose has nothing to say.
    states = {s.name: s.state for s in LocalBackend(settings).status().components}
    assert states["prometheus"] == "stopped"
    assert ComposeBackend(settings).status().notes == []
    assert KubernetesBackend(settings).status().notes == []
    assert LocalBackend(settings).down().components == []


def test_the_demo_mode_is_remembered_unless_a_deploy_says_otherwise(
    settings: StackSettings,
) -> None:
    assert not LocalBackend(settings).demo
    settings.state_dir.mkdir(parents=True)
    mode.remember(settings, target="local", demo=True)
    assert LocalBackend(settings).demo
    assert not LocalBackend(settings, DeployOptions(demo=False)).demo


def test_compose_refuses_the_demo_when_made(settings: StackSettings) -> None:
    with pytest.raises(Exception, match="--demo is not supported with --target compose"):
        ComposeBackend(settings, DeployOptions(demo=True))
    assert not settings.state_dir.exists()


def test_the_last_settings_are_remembered_without_secrets(settings: StackSettings) -> None:
    """What a roll-back puts components back on: the last deploy's ports and addresses."""
    assert mode.last_settings(settings) is None
    settings.state_dir.mkdir(parents=True)
    deployed = settings.model_copy(update={"prometheus_port": 29999, "smtp_password": "hush"})
    mode.remember(deployed, target="local", demo=False)
    assert "hush" not in (settings.state_dir / mode.MODE_FILE).read_text()
    last = mode.last_settings(settings)
    assert last is not None
    assert last.prometheus_port == 29999
    assert last.rules_dir == settings.rules_dir
    assert last.smtp_password is None
    (settings.state_dir / mode.MODE_FILE).write_text('{"settings": {"prometheus_port": "x"}}')
    assert mode.last_settings(settings) is None
