"""Health checks against a real Prometheus (TLS, auth) and Alertmanager."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from pathlib import Path

import pytest

from acgs_deploy.backup.snapshot import backup_name
from acgs_deploy.health import (
    check_alertmanager,
    check_backups,
    check_certificates,
    check_firing,
    check_ready,
    check_rules,
    check_targets,
    check_tsdb,
    expected_targets,
    healthy,
)
from acgs_deploy.settings import StackSettings
from acgs_testkit.ca import Certs
from acgs_testkit.waiting import wait_for

from .conftest import Stack


def test_ready_through_tls_and_auth(stack: Stack) -> None:
    with stack.prometheus.client() as client:
        assert check_ready("prometheus", client).status == "ok"
    with dataclasses.replace(stack.prometheus, password="wrong").client() as client:
        result = check_ready("prometheus", client)
    assert result.status == "fail"
    assert "401" in result.detail


def _expected(stack: Stack) -> dict[str, set[str]]:
    return {job: {address} for job, address in stack.targets.items()}


def test_a_job_without_a_live_target_fails(stack: Stack) -> None:
    with stack.prometheus.client() as client:
        result = check_targets(client, _expected(stack))
    assert result.status == "fail"
    assert result.data["down_jobs"] == ["absent"]
    assert result.data["expected_jobs"] == ["absent", "acgs-test", "prometheus"]
    assert result.data["unexpected_targets"] == {}
    assert "2/3 up" in result.detail


def test_targets_are_held_against_the_settings_not_the_loaded_config(stack: Stack) -> None:
    # A stale or foreign configuration: the settings say acgs-test listens elsewhere and
    # that there is an acgs-gs job, while Prometheus scrapes what its own file says.
    expected = _expected(stack) | {"acgs-test": {"127.0.0.1:1"}, "acgs-gs": {"127.0.0.1:2"}}
    del expected["absent"]
    with stack.prometheus.client() as client:
        result = check_targets(client, expected)
    assert result.status == "fail"
    assert result.data["missing_jobs"] == ["acgs-gs"]
    assert result.data["unexpected_targets"] == {
        "acgs-test": [stack.targets["acgs-test"]],
        "absent": [stack.targets["absent"]],
    }
    assert "acgs-test scrapes" in result.detail
    assert "invoke deploy" in result.detail


def test_expected_targets_follow_the_settings(tmp_path: Path) -> None:
    settings = StackSettings.load(
        tmp_path, sim_base_port=18000, prometheus_port=19090, node_exporter_port=19100
    )
    expected = expected_targets(settings)
    assert expected["acgs-auth"] == {"127.0.0.1:18000"}
    assert expected["acgs-ec"] == {"127.0.0.1:18006"}
    assert expected["prometheus"] == {"127.0.0.1:19090"}
    assert expected["node_exporter"] == {"127.0.0.1:19100"}
    assert len(expected) == 10


def test_rules_alertmanager_and_firing(stack: Stack) -> None:
    with stack.prometheus.client() as prom, stack.alertmanager.client() as am:
        rules = check_rules(prom)
        assert rules.status == "ok"
        assert rules.data["rules"] == 5
        manager = check_alertmanager(am)
        assert manager.status == "ok"
        assert manager.data["receivers"] == ["webhook"]
        wait_for(
            lambda: "TestAlwaysFiring" in check_firing(am).data["alertnames"],
            20,
            "TestAlwaysFiring in Alertmanager",
            every_s=0.5,
        )
        firing = check_firing(am)
    assert firing.data["by_severity"]["warning"] >= 1


def test_certificate_days(tls: Certs) -> None:
    cert = tls.server_cert  # valid for 30 days
    assert check_certificates([cert]).status == "warn"
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(days=25)
    assert check_certificates([cert], now=soon).status == "fail"
    earlier = dt.datetime.now(dt.UTC) - dt.timedelta(days=10)
    result = check_certificates([cert], now=earlier)
    assert result.status == "ok"
    assert "40 days left" in result.detail


def test_tsdb_projection(stack: Stack) -> None:
    with stack.prometheus.client() as client:
        result = check_tsdb(client, stack.prometheus_data)
    assert result.status == "ok"
    assert result.data["bytes"] > 0
    assert result.data["retention_s"] == 15 * 86400  # Prometheus' default
    # Under an hour of data: projected from one hour (a young store grows fast at first).
    assert result.data["projected_bytes"] == pytest.approx(result.data["bytes"] * 15 * 24, rel=0.01)


def _backup(directory: Path, hours_ago: float) -> Path:
    when = dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours_ago)
    path = directory / backup_name(when)
    path.write_bytes(b"x")
    return path


def test_backup_age(tmp_path: Path) -> None:
    assert check_backups(tmp_path / "none").status == "warn"
    _backup(tmp_path, hours_ago=1)
    assert check_backups(tmp_path).status == "ok"
    for old in tmp_path.iterdir():
        old.unlink()
    _backup(tmp_path, hours_ago=80)
    result = check_backups(tmp_path)
    assert result.status == "fail"
    assert "80.0 h old" in result.detail
    assert not healthy([result])


def test_backup_age_ignores_partial_and_foreign_files(tmp_path: Path) -> None:
    backup = _backup(tmp_path, hours_ago=80)
    # Touched now, but the age is the backup's own time (in its name), not the file's mtime.
    os.utime(backup)
    (tmp_path / ".acgs-backup-20991231T000000000000Z.part").write_bytes(b"half")
    (tmp_path / "notes.txt").write_text("newer, not a backup")
    (tmp_path / "acgs-backup-garbled.acgsbak").write_bytes(b"x")
    result = check_backups(tmp_path)
    assert result.status == "fail"
    assert result.data["file"] == str(backup)
    assert "80.0 h old" in result.detail
    only_partial = tmp_path / "partial-only"
    only_partial.mkdir()
    (only_partial / ".acgs-backup-20991231T000000000000Z.part").write_bytes(b"half")
    assert check_backups(only_partial).status == "warn"
