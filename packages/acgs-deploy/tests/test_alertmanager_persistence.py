"""How often Alertmanager writes silences to disk: a stack setting, on its command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from acgs_deploy.components import components
from acgs_deploy.settings import SettingsError, StackSettings


def _alertmanager_argv(settings: StackSettings) -> list[str]:
    found = next(c for c in components(settings, demo=False) if c.name == "alertmanager")
    assert found.spec is not None
    return list(found.spec.argv)


def test_the_stack_writes_silences_every_minute_by_default(tmp_path: Path) -> None:
    argv = _alertmanager_argv(StackSettings.load(tmp_path))
    assert "--data.maintenance-interval=1m" in argv


def test_the_interval_is_a_setting(tmp_path: Path) -> None:
    settings = StackSettings.load(tmp_path, alertmanager_maintenance_interval="15s")
    assert "--data.maintenance-interval=15s" in _alertmanager_argv(settings)


@pytest.mark.parametrize("value", ["0s", "0", "1d", "-1m", "soon"])
def test_an_interval_alertmanager_cannot_use_is_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(SettingsError, match="alertmanager_maintenance_interval"):
        StackSettings.load(tmp_path, alertmanager_maintenance_interval=value)
