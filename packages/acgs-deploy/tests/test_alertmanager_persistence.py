"""How often Alertmanager writes silences to disk: a stack setting, on its command line; on a
real Alertmanager, a silence survives kill -9 once written and is lost before."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from acgs_deploy.components import components
from acgs_deploy.settings import SettingsError, StackSettings
from acgs_testkit.servers import alertmanager
from acgs_testkit.silences import live_silence_ids, make_silence
from acgs_testkit.waiting import wait_for


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


def _written(data: Path, silence: str) -> bool:
    """The silence is in Alertmanager's file on disk (a protobuf holding the id as text)."""
    path = data / "silences"
    return path.is_file() and silence.encode() in path.read_bytes()


def _survives_kill_9(workdir: Path, interval: str | None, *, wait_written: bool) -> bool:
    with alertmanager(workdir, maintenance_interval=interval) as server, server.client() as api:
        silence = make_silence(api, {"alertname": "Kept"})
        data = server.data
        assert data is not None
        if wait_written:
            wait_for(lambda: _written(data, silence), 10, "the silence written to disk")
        os.kill(server.pid, signal.SIGKILL)
    with alertmanager(workdir) as server, server.client() as api:
        return silence in live_silence_ids(api)


def test_a_silence_written_at_the_interval_survives_kill_9(tmp_path: Path) -> None:
    assert _survives_kill_9(tmp_path / "am", "1s", wait_written=True)


def test_without_a_write_kill_9_loses_the_silence(tmp_path: Path) -> None:
    # Why the setting exists: Alertmanager's own 15m interval had not written it yet.
    assert not _survives_kill_9(tmp_path / "am", None, wait_written=False)
